"""Scenarios over the music app: playlist lookups, likes and follows, play-history questions and a
playlist built from play history."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from looprl.world.tasks import BaseView, TaskSpec, check, scenario
from looprl.world.tasks._snippets import header

_FIND_PLAYLIST = """\
playlists = collect(apis.music.show_playlists, access_token=music_token)
playlist_id = next(p["playlist_id"] for p in playlists if p["title"] == "{title}")
"""


def _my_playlists(view: BaseView) -> list[dict]:
    return view.all("SELECT id, title FROM music_playlists WHERE user_id = ? ORDER BY id", (view.user_id,))


def _playlist_songs(view: BaseView, playlist_id: int) -> list[dict]:
    return view.all(
        "SELECT s.id, s.title, r.name AS artist FROM music_playlist_songs ps JOIN music_songs s ON s.id = ps.song_id "
        "JOIN music_artists r ON r.id = s.artist_id WHERE ps.playlist_id = ? ORDER BY ps.position",
        (playlist_id,),
    )


def _plays_since(view: BaseView, since: str) -> list[dict]:
    return view.all("SELECT song_id FROM music_play_history WHERE user_id = ? AND played_at >= ?", (view.user_id, since))


def _date_words(date) -> str:
    return f"{date:%B} {date.day}, {date.year}"


@scenario("music_count_artist_in_playlist", split="train", apps=("music",))
def music_count_artist_in_playlist(view: BaseView) -> list[TaskSpec]:
    """How many songs by artist A are in my playlist P? (find the playlist, page through its songs)"""
    specs = []
    for pl in view.rng.sample(_my_playlists(view), 3):
        songs = _playlist_songs(view, pl["id"])
        per_artist = Counter(s["artist"] for s in songs)
        repeated = sorted(a for a, n in per_artist.items() if n > 1)
        artist = view.rng.choice(repeated or sorted(per_artist))
        count = per_artist[artist]
        solution = header("music") + _FIND_PLAYLIST.format(title=pl["title"]) + f"""\
songs = collect(apis.music.show_playlist_songs, access_token=music_token, playlist_id=playlist_id)
apis.supervisor.complete_task(answer=sum(1 for s in songs if s["artist_name"] == "{artist}"))
"""
        specs.append(TaskSpec(instruction=f"How many songs by {artist} are in my '{pl['title']}' playlist?", solution=solution, difficulty=1, answer=count))
    return specs


@scenario("music_follow_artist_of_song", split="train", apps=("music",))
def music_follow_artist_of_song(view: BaseView) -> list[TaskSpec]:
    """Follow the artist of a named song (search the catalog, then act)."""
    rows = view.all(
        "SELECT s.title, s.artist_id FROM music_songs s WHERE s.artist_id NOT IN (SELECT artist_id FROM music_artist_follows WHERE user_id = ?) ORDER BY s.id",
        (view.user_id,),
    )
    # Titles that no other song's title contains, so a search for the title finds it unambiguously.
    titles = [r["title"] for r in rows]
    rows = [r for r in rows if sum(r["title"].lower() in t.lower() for t in titles) == 1]
    specs = []
    for song in view.rng.sample(rows, 3):
        solution = header("music") + f"""\
songs = collect(apis.music.search_songs, access_token=music_token, query="{song['title']}")
song = next(s for s in songs if s["title"] == "{song['title']}")
apis.music.follow_artist(access_token=music_token, artist_id=song["artist_id"])
apis.supervisor.complete_task()
"""

        def checks(ctx, artist_id=song["artist_id"]):
            added = ctx.diff.added.get("music_artist_follows", [])
            return [
                check("the song's artist is followed", any(r["artist_id"] == artist_id and r["user_id"] == 1 for r in added), "the artist is not followed"),
                check("no other artist was followed", all(r["artist_id"] == artist_id for r in added), f"{len(added)} follows added"),
            ]

        specs.append(
            TaskSpec(
                instruction=f"Follow the artist who performs the song '{song['title']}' on my music app.",
                solution=solution,
                difficulty=1,
                checks=checks,
                allowed_changes={"music_artist_follows": lambda b, a: b is None and a is not None and a["user_id"] == 1},
            )
        )
    return specs


@scenario("music_like_playlist_songs", split="train", apps=("music",))
def music_like_playlist_songs(view: BaseView) -> list[TaskSpec]:
    """Like every not-yet-liked song of a playlist (two paginated lists compared, then act on each)."""
    specs = []
    liked = {r["song_id"] for r in view.all("SELECT song_id FROM music_song_likes WHERE user_id = ?", (view.user_id,))}
    for pl in view.rng.sample(_my_playlists(view), 3):
        song_ids = frozenset(s["id"] for s in _playlist_songs(view, pl["id"]))
        if song_ids <= liked:
            raise ValueError(f"music_like_playlist_songs: every song of {pl['title']!r} is already liked")
        solution = header("music") + _FIND_PLAYLIST.format(title=pl["title"]) + """\
liked = {s["song_id"] for s in collect(apis.music.show_liked_songs, access_token=music_token)}
for song in collect(apis.music.show_playlist_songs, access_token=music_token, playlist_id=playlist_id):
    if song["song_id"] not in liked:
        apis.music.like_song(access_token=music_token, song_id=song["song_id"])
apis.supervisor.complete_task()
"""

        def checks(ctx, song_ids=song_ids):
            now_liked = {r["song_id"] for r in ctx.after_all("SELECT song_id FROM music_song_likes WHERE user_id = 1")}
            missing = song_ids - now_liked
            return [check("every song of the playlist is liked", not missing, f"{len(missing)} song(s) not liked")]

        specs.append(
            TaskSpec(
                instruction=f"Like every song in my '{pl['title']}' playlist that I haven't liked yet.",
                solution=solution,
                difficulty=2,
                checks=checks,
                allowed_changes={"music_song_likes": lambda b, a, s=song_ids: b is None and a is not None and a["user_id"] == 1 and a["song_id"] in s},
            )
        )
    return specs


@scenario("music_most_played_since", split="dev", apps=("music",))
def music_most_played_since(view: BaseView) -> list[TaskSpec]:
    """Which artist / song / genre did I play most since date D? (page through play history, count)"""
    asks = [("artist", "artist_name", "artist"), ("song", "title", "title"), ("genre", "genre", "genre")]
    windows = iter((7, 10, 14, 21, 30, 45, 60, 75, 90))
    specs = []
    for what, field, column in asks:
        for days in windows:
            since = (view.now - timedelta(days=days)).date()
            plays = view.all(
                "SELECT r.name AS artist, s.title, s.genre FROM music_play_history h JOIN music_songs s ON s.id = h.song_id "
                "JOIN music_artists r ON r.id = s.artist_id WHERE h.user_id = ? AND h.played_at >= ?",
                (view.user_id, since.isoformat()),
            )
            counts = Counter(p[column] for p in plays).most_common(2)
            if len(counts) < 2 or counts[0][1] == counts[1][1]:
                continue  # a tie has no single right answer
            solution = header("music") + f"""\
from collections import Counter
plays = collect(apis.music.show_play_history, access_token=music_token, played_after="{since.isoformat()}")
counts = Counter(p["{field}"] for p in plays)
apis.supervisor.complete_task(answer=counts.most_common(1)[0][0])
"""
            specs.append(
                TaskSpec(
                    instruction=f"Which {what} have I played the most on my music app since {_date_words(since)} (counting every play)?",
                    solution=solution,
                    difficulty=2,
                    answer=counts[0][0],
                )
            )
            break
    if len(specs) != 3:
        raise ValueError(f"music_most_played_since: only {len(specs)} windows without a tie")
    return specs


@scenario("music_playlist_from_history", split="test_normal", apps=("music",))
def music_playlist_from_history(view: BaseView) -> list[TaskSpec]:
    """Build a private playlist of my N most played songs since date D."""
    titles = ["Heavy Rotation", "On Repeat", "Recent Favourites"]
    specs = []
    for n in (3, 4, 5, 6):
        for days in (14, 21, 30, 45, 60):
            since = (view.now - timedelta(days=days)).date()
            ranked = Counter(p["song_id"] for p in _plays_since(view, since.isoformat())).most_common(n + 1)
            if len(ranked) <= n or ranked[n - 1][1] == ranked[n][1] or ranked[n - 1][1] < 2:
                continue  # the top n must be unambiguous and songs played more than once
            top = frozenset(song_id for song_id, _ in ranked[:n])
            title = titles[len(specs)]
            solution = header("music") + f"""\
from collections import Counter
plays = collect(apis.music.show_play_history, access_token=music_token, played_after="{since.isoformat()}")
top = [song_id for song_id, _ in Counter(p["song_id"] for p in plays).most_common({n})]
playlist_id = apis.music.create_playlist(access_token=music_token, title="{title}", is_public=False)["playlist_id"]
for song_id in top:
    apis.music.add_song_to_playlist(access_token=music_token, playlist_id=playlist_id, song_id=song_id)
apis.supervisor.complete_task()
"""

            def checks(ctx, title=title, top=top):
                pl = ctx.after_one("SELECT * FROM music_playlists WHERE user_id = 1 AND title = ?", (title,))
                songs = {r["song_id"] for r in ctx.after_all("SELECT song_id FROM music_playlist_songs WHERE playlist_id = ?", (pl["id"],))} if pl else set()
                return [
                    check("the playlist exists", pl is not None, f"no playlist titled {title!r}"),
                    check("the playlist is private", pl is not None and not pl["is_public"], "the playlist is public"),
                    check("it holds exactly the most played songs", songs == top, f"{len(songs & top)} of {len(top)} right, {len(songs - top)} wrong"),
                ]

            specs.append(
                TaskSpec(
                    instruction=f"Create a private playlist called '{title}' with the {n} songs I have played the most since {_date_words(since)}.",
                    solution=solution,
                    difficulty=3,
                    checks=checks,
                    allowed_changes={
                        "music_playlists": lambda b, a: b is None and a is not None and a["user_id"] == 1,
                        "music_playlist_songs": lambda b, a: b is None and a is not None,
                    },
                )
            )
            if len(specs) == 3:
                return specs
            break  # one window per n, so the three asks differ in size
    raise ValueError(f"music_playlist_from_history: only {len(specs)} unambiguous (n, window) pairs")
