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
