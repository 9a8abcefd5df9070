"""What a build keeps about the last one: where its records are, and a key of every input."""

from __future__ import annotations

import hashlib
from pathlib import Path

from newsdigest import __version__
from newsdigest.build import output
from newsdigest.build.discover import Sources, listing
from newsdigest.build.options import BuildOptions
from newsdigest.build.output import Manifest
from newsdigest.config.site import SiteConfig, settings_fingerprint
from newsdigest.content.files import discover
from newsdigest.fingerprint import PACKAGE, fingerprint
from newsdigest.render import default_theme_dir
from newsdigest.stories.sources import CACHE_NAME


def manifest_path(config: SiteConfig) -> Path:
    key = hashlib.blake2b(str(config.output_dir).encode(), digest_size=6).hexdigest()
    return config.cache_dir / f"manifest-{key}.pickle"


def snapshot_path(manifest_file: Path) -> Path:
    return manifest_file.with_suffix(".inputs")


def templates_record_path(manifest_file: Path) -> Path:
    return manifest_file.with_suffix(".templates")


def basis_path(manifest_file: Path) -> Path:
    """Which gathered site the manifest's files were made from (plan.LastBuild)."""
    return manifest_file.with_suffix(".basis")


def last_manifest(config: SiteConfig, cache_dir: Path | None
                   ) -> tuple[Path | None, Manifest | None]:
    """The record of the last build into the output folder, and where it is kept."""
    manifest_file = manifest_path(config) if cache_dir else None
    manifest = output.load_manifest(manifest_file) if manifest_file else None
    if manifest is not None and not (config.output_dir / output.MARKER).exists():
        manifest = None  # the folder was replaced or emptied since
    return manifest_file, manifest


def inputs_key(config: SiteConfig, options: BuildOptions, sources: Sources) -> str:
    """Everything a build reads, as sizes and mtimes: equal keys mean an equal site."""
    folders = [config.templates_dir, default_theme_dir() / "templates", config.static_dir,
               default_theme_dir() / "static"]
    found = [discover(folder) if folder.is_dir() else None for folder in folders]
    code = sorted((p.relative_to(PACKAGE).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in PACKAGE.rglob("*.py"))
    return fingerprint(
        __version__, code, settings_fingerprint(config), config.images,
        [str(f) for f in folders], options.drafts, options.future, options.skip_invalid,
        options.search, options.report, options.offline,
        listing(sources.notes + sources.discovery.assets, sources.discovery.columns),
        [listing(d.items + d.assets) if d else None for d in found],
        _stat(config.cache_dir / CACHE_NAME),  # the sources' health, on the curation report
    )


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_size, found.st_mtime_ns
