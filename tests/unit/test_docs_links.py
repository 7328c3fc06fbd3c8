"""The README and docs/: every relative link resolves (file and heading), every file path they
name in backticks exists, and every in-process implementation is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.dispatch.implementations import IMPLEMENTATIONS

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", ROOT / "clients" / "python" / "README.md", *(ROOT / "docs").glob("*.md")])
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# A repository path in backticks: a known top-level directory, then a file name with an extension.
NAMED_PATH = re.compile(
    r"`((?:docs|shared|functions|pie_local|infra|tools|bench|tests|events|examples|clients|console)/[\w./-]+\.\w+)`"
)
# Records of what was (decisions, past benchmark runs) may name files since moved; links in them
# must still resolve, but their backticked paths are history.
RECORDS = {ROOT / "docs" / "decisions.md", ROOT / "docs" / "performance.md"}
GENERATED = {"bench/results.json", "bench/mlflow_peer_results.json"}  # written by make bench, gitignored
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def _prose(page: Path) -> str:
    return FENCE.sub("", page.read_text())


def _anchors(page: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for heading in re.findall(r"^#+ +(.+?) *$", _prose(page), re.MULTILINE):
        text = re.sub(r"[^\w\- ]", "", heading.lower().replace("`", ""))
        anchors.add(text.replace(" ", "-"))
    return anchors


def _relative_links(page: Path) -> list[str]:
    return [target for target in LINK.findall(_prose(page)) if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path):
    broken = []
    for target in _relative_links(page):
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.relative_to(ROOT)}")
    assert not broken, broken


@pytest.mark.parametrize(
    "page", [page for page in PAGES if page not in RECORDS], ids=lambda page: str(page.relative_to(ROOT))
)
def test_every_file_path_named_exists(page: Path):
    missing = [
        named
        for named in NAMED_PATH.findall(_prose(page))
        if "<" not in named and "*" not in named and named not in GENERATED and not (ROOT / named).exists()
    ]
    assert not missing, missing


def test_the_readme_cites_nothing_outside_the_repository():
    readme = (ROOT / "README.md").read_text()

    assert "SPEC.md" not in readme
    assert not re.search(r"\bseed \d{3}\b", readme)


def test_every_in_process_implementation_is_in_the_readmes_table():
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([a-z][a-z0-9_]*)` \|", readme, re.MULTILINE))

    assert set(IMPLEMENTATIONS) <= documented, set(IMPLEMENTATIONS) - documented


def test_the_readmes_sam_line_passes_the_environment_file_deploy_md_does():
    readme = (ROOT / "README.md").read_text()
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    invocations = [line for line in readme.splitlines() if line.startswith("sam local invoke")]

    assert invocations and all("--env-vars sam-env.json" in line for line in invocations)
    assert "--env-vars sam-env.json" in deploy
