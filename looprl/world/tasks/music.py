"""Scenarios over the music app: playlist lookups, likes and follows, play-history questions and a
playlist built from play history.

Each generator draws one task from its instance's base world (`BaseView`): playlists, artists,
songs, genres and date windows come from that world's data, chosen with ``view.rng`` among the
candidates that make the ask unambiguous (a unique song title, a most-played item without a tie).
Ground truths read everything through the public ``apis``: only what the instruction states
(titles, names, dates, counts) appears in the code."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from looprl.world.tasks import BaseView, TaskSpec, check, scenario
from looprl.world.tasks._snippets import header, inserts_by

_FIND_PLAYLIST = """\
playlists = collect(apis.music.show_playlists, access_token=music_token)
playlist_id = next(p["playlist_id"] for p in playlists if p["title"] == "{title}")
"""

_PLAY_WINDOWS = range(5, 88)  # days back a "since" date may lie (the seeded play history spans 90 days)


def _my_playlists(view: BaseView) -> list[dict]:
    return view.all("SELECT id, title FROM music_playlists WHERE user_id = ? ORDER BY id", (view.user_id,))


def _playlist_songs(view: BaseView, playlist_id: int) -> list[dict]:
    return view.all(
        "SELECT s.id, s.title, s.genre, r.name AS artist FROM music_playlist_songs ps JOIN music_songs s ON s.id = ps.song_id "
        "JOIN music_artists r ON r.id = s.artist_id WHERE ps.playlist_id = ? ORDER BY ps.position",
        (playlist_id,),
    )


def _plays_since(view: BaseView, since: str) -> list[dict]:
    return view.all(
        "SELECT h.song_id, r.name AS artist, s.title, s.genre FROM music_play_history h JOIN music_songs s ON s.id = h.song_id "
        "JOIN music_artists r ON r.id = s.artist_id WHERE h.user_id = ? AND h.played_at >= ?",
        (view.user_id, since),
    )


def _date_words(date) -> str:
    return f"{date:%B} {date.day}, {date.year}"


_UNAMBIGUOUS: dict[int, frozenset[str]] = {}


def _unambiguous_titles(view: BaseView) -> frozenset[str]:
    """Song titles that no other song's title contains, so a catalog search for one finds it
    unambiguously (computed once per base world)."""
    if view.world not in _UNAMBIGUOUS:
        titles = [r["title"] for r in view.all("SELECT title FROM music_songs")]
        lowered = [t.lower() for t in titles]
        _UNAMBIGUOUS[view.world] = frozenset(t for t in titles if sum(t.lower() in other for other in lowered) == 1)
    return _UNAMBIGUOUS[view.world]


@scenario("music_count_artist_in_playlist", split="train", apps=("music",))
def music_count_artist_in_playlist(view: BaseView) -> TaskSpec:
    """How many songs by artist A are in my playlist P? (find the playlist, page through its songs)"""
    pairs = []  # (playlist title, artist, count) for every artist of every playlist of mine
    for pl in _my_playlists(view):
        per_artist = Counter(s["artist"] for s in _playlist_songs(view, pl["id"]))
        pairs += [(pl["title"], artist, n) for artist, n in sorted(per_artist.items())]
    repeated = [p for p in pairs if p[2] > 1]
    title, artist, count = view.rng.choice(repeated if repeated and view.rng.random() < 0.5 else pairs)
    solution = (
        header("music")
        + _FIND_PLAYLIST.format(title=title)
        + f"""\
songs = collect(apis.music.show_playlist_songs, access_token=music_token, playlist_id=playlist_id)
apis.supervisor.complete_task(answer=sum(1 for s in songs if s["artist_name"] == "{artist}"))
"""
    )
    instruction = view.phrase(
        [
            "How many songs by {artist} are in my '{playlist}' playlist?",
            "Count the {artist} songs in my '{playlist}' playlist on my music app.",
            "In my music app's '{playlist}' playlist, how many tracks are by {artist}?",
            "Tell me how many of the songs in my '{playlist}' playlist are by {artist}.",
        ],
        artist=artist,
        playlist=title,
    )
    return TaskSpec(instruction=instruction, solution=solution, difficulty=1, answer=count)


@scenario("music_follow_artist_of_song", split="train", apps=("music",))
def music_follow_artist_of_song(view: BaseView) -> TaskSpec:
    """Follow the artist of a named song (search the catalog, then act)."""
    unambiguous = _unambiguous_titles(view)
    rows = view.all(
        "SELECT title, artist_id FROM music_songs WHERE artist_id NOT IN (SELECT artist_id FROM music_artist_follows WHERE user_id = ?) ORDER BY id",
        (view.user_id,),
    )
    song = view.rng.choice([r for r in rows if r["title"] in unambiguous])
    artist_id = song["artist_id"]
    solution = (
        header("music")
        + f"""\
songs = collect(apis.music.search_songs, access_token=music_token, query="{song["title"]}")
song = next(s for s in songs if s["title"] == "{song["title"]}")
apis.music.follow_artist(access_token=music_token, artist_id=song["artist_id"])
apis.supervisor.complete_task()
"""
    )

    def checks(ctx):
        added = ctx.diff.added.get("music_artist_follows", [])
        return [
            check("the song's artist is followed", any(r["artist_id"] == artist_id and r["user_id"] == 1 for r in added), "the artist is not followed"),
            check("no other artist was followed", all(r["artist_id"] == artist_id for r in added), f"{len(added)} follows added"),
        ]

    instruction = view.phrase(
        [
            "Follow the artist who performs the song '{song}' on my music app.",
            "On my music app, start following whoever performs '{song}'.",
            "I like the song '{song}': follow its artist on my music app.",
            "Find the song '{song}' in my music app and follow the artist behind it.",
        ],
        song=song["title"],
    )
    return TaskSpec(instruction=instruction, solution=solution, difficulty=1, checks=checks, allowed_changes={"music_artist_follows": inserts_by()})


@scenario("music_like_playlist_songs", split="train", apps=("music",))
def music_like_playlist_songs(view: BaseView) -> TaskSpec:
    """Like every not-yet-liked song of a playlist, or of one genre in it (two paginated lists
    compared, then act on each)."""
    liked = {r["song_id"] for r in view.all("SELECT song_id FROM music_song_likes WHERE user_id = ?", (view.user_id,))}
    whole, by_genre = [], []  # (playlist title, genre or None, the songs it asks about); each has a song to like
    for pl in _my_playlists(view):
        songs = _playlist_songs(view, pl["id"])
        if any(s["id"] not in liked for s in songs):
            whole.append((pl["title"], None, songs))
        for genre in sorted({s["genre"] for s in songs}):
            of_genre = [s for s in songs if s["genre"] == genre]
            if len(of_genre) < len(songs) and any(s["id"] not in liked for s in of_genre):
                by_genre.append((pl["title"], genre, of_genre))
    title, genre, songs = view.rng.choice(whole if whole and (not by_genre or view.rng.random() < 0.3) else by_genre)
    song_ids = frozenset(s["id"] for s in songs)
    condition = f'song["genre"] == "{genre}" and ' if genre else ""
    solution = (
        header("music")
        + _FIND_PLAYLIST.format(title=title)
        + f"""\
liked = {{s["song_id"] for s in collect(apis.music.show_liked_songs, access_token=music_token)}}
for song in collect(apis.music.show_playlist_songs, access_token=music_token, playlist_id=playlist_id):
    if {condition}song["song_id"] not in liked:
        apis.music.like_song(access_token=music_token, song_id=song["song_id"])
apis.supervisor.complete_task()
"""
    )

    def checks(ctx):
        now_liked = {r["song_id"] for r in ctx.after_all("SELECT song_id FROM music_song_likes WHERE user_id = 1")}
        missing = song_ids - now_liked
        return [check(f"every {genre + ' ' if genre else ''}song of the playlist is liked", not missing, f"{len(missing)} song(s) not liked")]

    if genre is None:
        templates = [
            "Like every song in my '{playlist}' playlist that I haven't liked yet.",
            "Go through my '{playlist}' playlist on my music app and like each song I have not liked already.",
            "Make sure I like all the songs of my '{playlist}' playlist: like the ones I haven't yet.",
            "On my music app, like the songs in my '{playlist}' playlist that are not among my liked songs yet.",
        ]
    else:
        templates = [
            "Like every {genre} song in my '{playlist}' playlist that I haven't liked yet.",
            "Go through my '{playlist}' playlist on my music app and like each {genre} song I have not liked already.",
            "Make sure I like all the {genre} songs of my '{playlist}' playlist: like the ones I haven't yet.",
            "On my music app, like the {genre} songs in my '{playlist}' playlist that are not among my liked songs yet.",
        ]
    instruction = view.phrase(templates, playlist=title, genre=genre)
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=2,
        checks=checks,
        allowed_changes={"music_song_likes": lambda b, a: b is None and a is not None and a["user_id"] == 1 and a["song_id"] in song_ids},
    )


def _count_plays_since(view: BaseView, since) -> TaskSpec:
    """How many plays since date D (the fallback of music_most_played_since where every window ties)."""
    solution = (
        header("music")
        + f"""\
plays = collect(apis.music.show_play_history, access_token=music_token, played_after="{since.isoformat()}")
apis.supervisor.complete_task(answer=len(plays))
"""
    )
    instruction = view.phrase(
        [
            "How many times have I played a song on my music app since {date}?",
            "Counting every play, how many plays does my music app's history have since {date}?",
            "Since {date}, how many plays are in my music app's play history?",
        ],
        date=_date_words(since),
    )
    return TaskSpec(instruction=instruction, solution=solution, difficulty=2, answer=len(_plays_since(view, since.isoformat())))


@scenario("music_most_played_since", split="dev", apps=("music",))
def music_most_played_since(view: BaseView) -> TaskSpec:
    """Which artist / song / genre did I play most since date D? (page through play history, count)"""
    asks = [("artist", "artist_name", "artist"), ("song", "title", "title"), ("genre", "genre", "genre")]
    candidates = [(ask, days) for ask in asks for days in _PLAY_WINDOWS]
    view.rng.shuffle(candidates)
    for (what, field, column), days in candidates:  # noqa: B007 (what and field are used after the break)
        since = (view.now - timedelta(days=days)).date()
        counts = Counter(p[column] for p in _plays_since(view, since.isoformat())).most_common(2)
        if len(counts) == 2 and counts[0][1] > counts[1][1]:
            break  # a tie would have no single right answer
    else:  # every window ties (never so in the seeded worlds): ask for the number of plays instead
        return _count_plays_since(view, (view.now - timedelta(days=_PLAY_WINDOWS[-1])).date())
    solution = (
        header("music")
        + f"""\
from collections import Counter
plays = collect(apis.music.show_play_history, access_token=music_token, played_after="{since.isoformat()}")
counts = Counter(p["{field}"] for p in plays)
apis.supervisor.complete_task(answer=counts.most_common(1)[0][0])
"""
    )
    instruction = view.phrase(
        [
            "Which {what} have I played the most on my music app since {date} (counting every play)?",
            "Counting every play since {date}, which {what} did I listen to most on my music app?",
            "On my music app, what is my most played {what} since {date}? Count every play.",
            "Since {date}, which {what} shows up most often in my music app's play history?",
        ],
        what=what,
        date=_date_words(since),
    )
    return TaskSpec(instruction=instruction, solution=solution, difficulty=2, answer=counts[0][0])


_NEW_PLAYLIST_TITLES = ["Heavy Rotation", "On Repeat", "Recent Favourites", "Most Played", "Top Tracks", "Current Obsessions", "Lately"]


@scenario("music_playlist_from_history", split="test_normal", apps=("music",))
def music_playlist_from_history(view: BaseView) -> TaskSpec:
    """Build a new private or public playlist of my N most played songs since date D."""
    taken = {p["title"] for p in _my_playlists(view)}
    title = view.rng.choice([t for t in _NEW_PLAYLIST_TITLES if t not in taken])
    public = view.rng.random() < 0.4
    candidates = [(n, days) for n in (3, 4, 5, 6) for days in _PLAY_WINDOWS]
    view.rng.shuffle(candidates)
    for n, days in candidates:
        since = (view.now - timedelta(days=days)).date()
        ranked = Counter(p["song_id"] for p in _plays_since(view, since.isoformat())).most_common(n + 1)
        if len(ranked) > n and ranked[n - 1][1] > ranked[n][1] and ranked[n - 1][1] >= 2:
            break  # the top n is unambiguous and made of songs played more than once
    else:  # no window has an unambiguous top n (never so in the seeded worlds): the songs tied at the top
        since = (view.now - timedelta(days=_PLAY_WINDOWS[-1])).date()
        ranked = Counter(p["song_id"] for p in _plays_since(view, since.isoformat())).most_common()
        n = sum(1 for _, plays in ranked if plays == ranked[0][1])
    top = frozenset(song_id for song_id, _ in ranked[:n])
    existing = {r["id"] for r in view.all("SELECT id FROM music_playlists")}
    solution = (
        header("music")
        + f"""\
from collections import Counter
plays = collect(apis.music.show_play_history, access_token=music_token, played_after="{since.isoformat()}")
top = [song_id for song_id, _ in Counter(p["song_id"] for p in plays).most_common({n})]
playlist_id = apis.music.create_playlist(access_token=music_token, title="{title}", is_public={public})["playlist_id"]
for song_id in top:
    apis.music.add_song_to_playlist(access_token=music_token, playlist_id=playlist_id, song_id=song_id)
apis.supervisor.complete_task()
"""
    )
    visibility = "public" if public else "private"

    def checks(ctx):
        pl = ctx.after_one("SELECT * FROM music_playlists WHERE user_id = 1 AND title = ?", (title,))
        songs = {r["song_id"] for r in ctx.after_all("SELECT song_id FROM music_playlist_songs WHERE playlist_id = ?", (pl["id"],))} if pl else set()
        return [
            check("the playlist exists", pl is not None, f"no playlist titled {title!r}"),
            check(f"the playlist is {visibility}", pl is not None and bool(pl["is_public"]) == public, f"the playlist is not {visibility}"),
            check("it holds exactly the most played songs", songs == top, f"{len(songs & top)} of {len(top)} right, {len(songs - top)} wrong"),
        ]

    instruction = view.phrase(
        [
            "Create a {visibility} playlist called '{title}' with the {n} songs I have played the most since {date}.",
            "Make a new {visibility} playlist named '{title}' on my music app holding my {n} most played songs since {date}.",
            "On my music app, put the {n} songs I've played most often since {date} into a new {visibility} playlist titled '{title}'.",
            "I want a {visibility} playlist '{title}' of my top {n} songs by number of plays since {date}; please create it.",
        ],
        visibility=visibility,
        title=title,
        n=n,
        date=_date_words(since),
    )
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=3,
        checks=checks,
        allowed_changes={
            "music_playlists": inserts_by(),
            # songs go into the new playlist only, never into one that existed before
            "music_playlist_songs": lambda b, a: b is None and a is not None and a["playlist_id"] not in existing,
        },
    )
