"""The README's and docs' relative links lead somewhere: each linked file or folder exists in
the checkout, and each #anchor is a heading of the file it names (GitHub's anchors)."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "results" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")


def prose(path: Path) -> str:
    """The page without its fenced code blocks (a link-like text in code is no link)."""
    out, inside = [], False
    for line in path.read_text().splitlines():
        if FENCE.match(line.strip()):
            inside = not inside
            continue
        if not inside:
            out.append(line)
    return "\n".join(out)


def anchors(path: Path) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, the characters other than letters,
    digits, spaces, hyphens and underscores dropped, spaces turned to hyphens; a repeated one
    gets -1, -2, ..."""
    seen, out = {}, set()
    for line in prose(path).splitlines():
        found = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not found:
            continue
        slug = re.sub(r"[^\w\- ]", "", found.group(1).strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        out.add(slug if count == 0 else f"{slug}-{count}")
    return out


def test_the_slug_rule_matches_githubs():
    page = ROOT / "docs" / "costmodel.md"
    assert "jaxs-jacfwd_vmap-in-the-width-study-and-the-model" in anchors(page)
    assert "jacfwds-output-layer-read-transposed-c3--l" in anchors(page)


def broken_links(page: Path) -> list[str]:
    """The page's relative links whose file or heading does not exist."""
    broken = []
    for target in LINK.findall(prose(page)):
        if re.match(r"^[a-z]+:", target):          # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no such heading")
    return broken


def test_a_broken_link_or_heading_is_found(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Top\n\n## A `b` c's d\n\n[ok](#a-b-cs-d) [top](#top) [gone](#a-b-c-d) "
                    "[file](missing.md) [web](https://example.org/#x)\n\n```\n[code](nowhere.md)\n```\n")
    assert broken_links(page) == ["#a-b-c-d: no such heading", "missing.md: no such file"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_lead_to_files_and_headings_that_exist(page):
    broken = broken_links(page)
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)
