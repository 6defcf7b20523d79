"""The music and payments scenario generators draw a task in every base world (they never raise, and
their fallbacks for worlds lacking data are never needed in the seeded ones), each worded through
at least 3 phrasings."""

from __future__ import annotations

import pytest

from looprl.world.tasks import MIN_PHRASINGS, N_WORLDS, BaseView, TaskSpec, scenarios

NAMES = sorted(name for name in scenarios() if name.startswith(("music_", "payments_")))


@pytest.mark.parametrize("name", NAMES)
def test_every_world_draws_a_task(name):
    generate = scenarios()[name].generate
    for world in range(N_WORLDS):
        for attempt in range(3):
            view = BaseView(name, 1, world=world, attempt=attempt)
            spec = generate(view)
            assert isinstance(spec, TaskSpec), f"{name} in world {world}"
            assert view.phrasings >= MIN_PHRASINGS


def test_most_played_never_falls_back_to_a_count():
    """Every seeded world has a window whose most played artist, song or genre is not tied."""
    generate = scenarios()["music_most_played_since"].generate
    for world in range(N_WORLDS):
        spec = generate(BaseView("music_most_played_since", 1, world=world))
        assert isinstance(spec.answer, str) and "most" in spec.instruction, f"world {world}: {spec.instruction}"


def test_playlist_from_history_asks_for_3_to_6_songs():
    """Every seeded world has an unambiguous top 3-6 songs (the fallback's 'songs tied at the top' is unused)."""
    generate = scenarios()["music_playlist_from_history"].generate
    for world in range(N_WORLDS):
        spec = generate(BaseView("music_playlist_from_history", 1, world=world))
        assert any(f"most_common({n})" in spec.solution for n in (3, 4, 5, 6)), f"world {world}"
