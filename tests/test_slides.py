"""The slide index (issue 13): every cited slide is in its deck, every public function cites a slide or
is marked beyond the slides, and the index lists the decks' slides in order with what cites them."""

import pytest

from crosscheck import slides
from crosscheck.registry import load_all

pytestmark = pytest.mark.skipif(
    not (slides.slides_dir() / "README.md").exists(), reason=f"the slides are not at {slides.slides_dir()}"
)


@pytest.fixture(scope="module")
def index():
    pairs, theorems = load_all()
    return slides.build_index(pairs, theorems)


def test_every_deck_has_its_file():
    files = slides.deck_files()
    assert sorted(files) == sorted(short for short, _, _ in slides.DECKS)
    assert all(path.exists() for path in files.values())


def test_every_cited_slide_is_in_its_deck(index):
    missing = [f"{e.deck} '{e.title}' (cited by {e.functions + e.pairs + e.theorems})" for e in slides.unlocated(index)]
    assert not missing, "cited slide titles that are not lines of the deck: " + "; ".join(missing)


def test_every_public_function_cites_a_slide_or_is_beyond_the_slides():
    assert slides.uncited() == [], "add a slide citation, or '(beyond the slides)' after the paper, to References"


def test_every_gap_is_at_a_slide_of_its_deck():
    decks = slides.load_decks()
    for gap in slides.GAPS:
        assert decks[gap.deck].locate(gap.slide) is not None, gap
        assert gap.status in ("not implemented", "not checkable") and len(gap.reason) > 20, gap


def test_slides_are_listed_deck_by_deck_in_the_decks_order(index):
    order = [short for short, _, _ in slides.DECKS]
    decks = [order.index(e.deck) for e in index]
    assert decks == sorted(decks)
    for short in order:
        lines = [e.line for e in index if e.deck == short and e.line is not None]
        assert lines == sorted(lines), short


def test_titles_match_as_the_slides_write_them():
    """A heading matches with markdown hashes, a slide number, a 'Theorem (...)' wrapper, case and a
    trailing colon ignored; a title that is only part of a longer line does not."""
    deck = slides.Deck(
        "L0", None, ["## 3. DDPM vs NCSN", "Theorem (Kantorovich-Rubinstein duality)", "Langevin dynamics:"]
    )
    assert deck.locate("DDPM vs NCSN") == 1
    assert deck.locate("Kantorovich-Rubinstein duality") == 2
    assert deck.locate("langevin dynamics") == 3
    assert deck.locate("Langevin") is None


def test_citations_parse_into_deck_and_title():
    text = "L8 'Discriminator Training Objective', 'Two-Sample Tests'; L7 'GAN optimality theorem'"
    assert slides.parse_citation(text) == [
        ("L8", "Discriminator Training Objective"),
        ("L8", "Two-Sample Tests"),
        ("L7", "GAN optimality theorem"),
    ]
    assert slides.parse_citation("Beigy, 'Score function (One-dimensional Gaussian distribution)'") == [
        ("Beigy", "Score function (One-dimensional Gaussian distribution)")
    ]


def test_the_index_names_functions_pairs_and_theorems_with_their_status(index):
    text = slides.render(index, {"gan.gan_value": "f64 passed"}, markdown=True)
    assert "## L7: Isachenko, DGM Lecture 7" in text
    assert "`gan.gan_value` (pair: f64 passed)" in text
    assert "not checkable:" in text and "## Beyond the slides" in text
    assert all(e.functions or e.pairs or e.theorems for e in index if not e.gaps)
