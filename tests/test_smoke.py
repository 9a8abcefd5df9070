from pathlib import Path

from conftest import SEED


def test_seed_item_builds_into_a_page(make_site):
    site = make_site({"content/seed.txt": Path(SEED).read_text()})
    assert site.build() == 0
    page = site.html("news/2020/05/20/seed/")
    assert [h.text_content() for h in page.iter("h1")] == [
        "Alibaba to invest $1B on AI integration with smart speaker"
    ]
    assert "secured" not in (site.public / "news/2020/05/20/seed/index.html").read_text()


def test_output_cut_short_by_its_reader_is_no_traceback(make_site):
    # `newsdigest build --explain | head -1`: the reader closes the pipe early.
    import os
    import subprocess
    import sys

    site = make_site({"content/seed.txt": Path(SEED).read_text()})
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads: the first write fails with EPIPE
    done = subprocess.run([sys.executable, "-m", "newsdigest", "build", "--no-search",
                           "--explain", "--config", str(site.root / "site.toml")],
                          stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    os.close(write_end)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 141
