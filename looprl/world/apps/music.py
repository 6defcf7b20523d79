"""The music app: a streaming service's catalog (artists, albums, songs) and each user's playlists,
library, likes, follows and play history.

Follows the notes pattern (typed APIs documented by their docstrings, ApiError statuses, paginated
lists with sort keys, deterministic seed). The catalog is shared by everyone and read-only except
for play counts; personal data belongs to one user (403 for someone else's; a private playlist of
someone else's is also 403, a public one can be read by anyone).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from looprl.world.core import ApiError, AppSpec, Ctx, PageIndex, PageLimit, paginate
from looprl.world.state import Gen

APP = AppSpec(
    "music",
    "A music streaming service: search the catalog of songs, albums and artists; manage your playlists, "
    "your library of saved songs and albums, liked songs and albums, followed artists; play songs and see your play history.",
    schema="""
CREATE TABLE music_artists (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, genre TEXT NOT NULL, country TEXT NOT NULL, formed_year INTEGER NOT NULL
);
CREATE TABLE music_albums (
    id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, artist_id INTEGER NOT NULL, genre TEXT NOT NULL, release_date TEXT NOT NULL
);
CREATE TABLE music_songs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, album_id INTEGER NOT NULL, artist_id INTEGER NOT NULL, genre TEXT NOT NULL,
    track_number INTEGER NOT NULL, duration_seconds INTEGER NOT NULL, release_date TEXT NOT NULL, play_count INTEGER NOT NULL
);
CREATE TABLE music_playlists (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, title TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
    is_public INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE(user_id, title)
);
CREATE TABLE music_playlist_songs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, playlist_id INTEGER NOT NULL, song_id INTEGER NOT NULL, position INTEGER NOT NULL,
    added_at TEXT NOT NULL, UNIQUE(playlist_id, song_id)
);
CREATE TABLE music_library_songs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, song_id INTEGER NOT NULL, added_at TEXT NOT NULL, UNIQUE(user_id, song_id)
);
CREATE TABLE music_library_albums (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, album_id INTEGER NOT NULL, added_at TEXT NOT NULL, UNIQUE(user_id, album_id)
);
CREATE TABLE music_song_likes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, song_id INTEGER NOT NULL, liked_at TEXT NOT NULL, UNIQUE(user_id, song_id)
);
CREATE TABLE music_album_likes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, album_id INTEGER NOT NULL, liked_at TEXT NOT NULL, UNIQUE(user_id, album_id)
);
CREATE TABLE music_artist_follows (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, artist_id INTEGER NOT NULL, followed_at TEXT NOT NULL, UNIQUE(user_id, artist_id)
);
CREATE TABLE music_play_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, song_id INTEGER NOT NULL, played_at TEXT NOT NULL
);
""",
)
APP.add_login()

GENRES = ("pop", "rock", "jazz", "hip-hop", "electronic", "classical", "country", "indie", "r&b", "folk")
Genre = Literal["pop", "rock", "jazz", "hip-hop", "electronic", "classical", "country", "indie", "r&b", "folk"]
Query = Annotated[str, Field(max_length=100, description="text to look for (case-insensitive); empty matches everything")]
PlaylistTitle = Annotated[str, Field(min_length=1, max_length=100)]
SongSort = Literal["title", "-title", "play_count", "-play_count", "release_date", "-release_date", "duration_seconds", "-duration_seconds"]

_SONG_SQL = """SELECT s.*, a.title AS album_title, r.name AS artist_name FROM music_songs s
JOIN music_albums a ON a.id = s.album_id JOIN music_artists r ON r.id = s.artist_id"""


def _order(sort_by: str, prefix: str = "") -> str:
    direction = "DESC" if sort_by.startswith("-") else "ASC"
    return f"{prefix}{sort_by.lstrip('-')} {direction}, {prefix}id"


def _song(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "song_id": row["id"],
        "title": row["title"],
        "artist_id": row["artist_id"],
        "artist_name": row["artist_name"],
        "album_id": row["album_id"],
        "album_title": row["album_title"],
        "genre": row["genre"],
        "track_number": row["track_number"],
        "duration_seconds": row["duration_seconds"],
        "release_date": row["release_date"],
        "play_count": row["play_count"],
    }


def _song_by_id(ctx: Ctx, song_id: int) -> dict[str, Any]:
    row = ctx.one(f"{_SONG_SQL} WHERE s.id = ?", (song_id,))
    if row is None:
        raise ApiError(404, f"No song found with id {song_id}.")
    return row


def _album_by_id(ctx: Ctx, album_id: int) -> dict[str, Any]:
    row = ctx.one("SELECT a.*, r.name AS artist_name FROM music_albums a JOIN music_artists r ON r.id = a.artist_id WHERE a.id = ?", (album_id,))
    if row is None:
        raise ApiError(404, f"No album found with id {album_id}.")
    return row


def _artist_by_id(ctx: Ctx, artist_id: int) -> dict[str, Any]:
    row = ctx.one("SELECT * FROM music_artists WHERE id = ?", (artist_id,))
    if row is None:
        raise ApiError(404, f"No artist found with id {artist_id}.")
    return row


def _album(row: dict[str, Any], song_count: int) -> dict[str, Any]:
    return {
        "album_id": row["id"],
        "title": row["title"],
        "artist_id": row["artist_id"],
        "artist_name": row["artist_name"],
        "genre": row["genre"],
        "release_date": row["release_date"],
        "song_count": song_count,
    }


def _album_rows(ctx: Ctx, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [_album(r, ctx.one("SELECT COUNT(*) AS n FROM music_songs WHERE album_id = ?", (r["id"],))["n"]) for r in rows]


def _artist(ctx: Ctx, row: dict[str, Any]) -> dict[str, Any]:
    followers = ctx.one("SELECT COUNT(*) AS n FROM music_artist_follows WHERE artist_id = ?", (row["id"],))["n"]
    return {
        "artist_id": row["id"],
        "name": row["name"],
        "genre": row["genre"],
        "country": row["country"],
        "formed_year": row["formed_year"],
        "follower_count": followers,
    }


def _like_clause(query: str, *columns: str) -> tuple[str, list[str]]:
    like = f"%{query.strip().lower()}%"
    return "(" + " OR ".join(f"lower({c}) LIKE ?" for c in columns) + ")", [like] * len(columns)


# ---- catalog --------------------------------------------------------------------------------------


@APP.api
def search_songs(
    ctx: Ctx,
    access_token: str,
    query: Query = "",
    genre: Genre | None = None,
    artist_id: int | None = None,
    album_id: int | None = None,
    released_after: str | None = None,
    sort_by: SongSort = "-play_count",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """Search the song catalog by title, artist name or album title, with optional filters.

    Args:
        access_token: your access token from login.
        query: text found in the song title, artist name or album title (case-insensitive); empty matches every song.
        genre: only songs of this genre.
        artist_id: only this artist's songs.
        album_id: only this album's songs.
        released_after: only songs released on or after this date (YYYY-MM-DD).
        sort_by: the sort key; a leading "-" sorts descending (default: most played first).
        page_index: the page to return, starting at 0.
        page_limit: the number of songs per page (at most 20).

    Returns:
        [{"song_id": integer, "title": string, "artist_id": integer, "artist_name": string, "album_id": integer, "album_title": string, "genre": string, "track_number": integer, "duration_seconds": integer, "release_date": string, "play_count": integer}]
    """
    clause, params = _like_clause(query, "s.title", "r.name", "a.title")
    where: list[str] = [clause]
    for column, value in (("s.genre", genre), ("s.artist_id", artist_id), ("s.album_id", album_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if released_after is not None:
        where.append("s.release_date >= ?")
        params.append(released_after)
    sql = f"{_SONG_SQL} WHERE {' AND '.join(where)} ORDER BY {_order(sort_by, 's.')}"
    return [_song(r) for r in paginate(ctx, sql, params, page_index, page_limit)]


@APP.api
def show_song(ctx: Ctx, access_token: str, song_id: int) -> dict[str, Any]:
    """Show one song, with whether you liked it and have it in your library.

    Args:
        access_token: your access token from login.
        song_id: the song to show.

    Returns:
        {"song_id": integer, "title": string, "artist_id": integer, "artist_name": string, "album_id": integer, "album_title": string, "genre": string, "track_number": integer, "duration_seconds": integer, "release_date": string, "play_count": integer, "like_count": integer, "liked": boolean, "in_library": boolean}
    """
    song = _song(_song_by_id(ctx, song_id))
    song["like_count"] = ctx.one("SELECT COUNT(*) AS n FROM music_song_likes WHERE song_id = ?", (song_id,))["n"]
    song["liked"] = ctx.one("SELECT id FROM music_song_likes WHERE user_id = ? AND song_id = ?", (ctx.user_id, song_id)) is not None
    song["in_library"] = ctx.one("SELECT id FROM music_library_songs WHERE user_id = ? AND song_id = ?", (ctx.user_id, song_id)) is not None
    return song


@APP.api
def show_top_songs(ctx: Ctx, access_token: str, genre: Genre | None = None, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> list[dict[str, Any]]:
    """The chart: the most played songs, optionally of one genre.

    Args:
        access_token: your access token from login.
        genre: only songs of this genre.
        page_index: the page to return, starting at 0.
        page_limit: the number of songs per page (at most 20).

    Returns:
        [{"song_id": integer, "title": string, "artist_id": integer, "artist_name": string, "album_id": integer, "album_title": string, "genre": string, "track_number": integer, "duration_seconds": integer, "release_date": string, "play_count": integer}]
    """
    where, params = ("WHERE s.genre = ?", [genre]) if genre else ("", [])
    return [_song(r) for r in paginate(ctx, f"{_SONG_SQL} {where} ORDER BY s.play_count DESC, s.id", params, page_index, page_limit)]


@APP.api
def show_genres(ctx: Ctx, access_token: str) -> list[dict[str, Any]]:
    """List the catalog's genres with how many songs each has.

    Args:
        access_token: your access token from login.

    Returns:
        [{"genre": string, "song_count": integer}]
    """
    counts = {r["genre"]: r["n"] for r in ctx.all("SELECT genre, COUNT(*) AS n FROM music_songs GROUP BY genre")}
    return [{"genre": g, "song_count": counts.get(g, 0)} for g in GENRES]


@APP.api
def search_albums(
    ctx: Ctx,
    access_token: str,
    query: Query = "",
    genre: Genre | None = None,
    artist_id: int | None = None,
    sort_by: Literal["title", "-title", "release_date", "-release_date"] = "-release_date",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """Search albums by title or artist name.

    Args:
        access_token: your access token from login.
        query: text found in the album title or artist name (case-insensitive); empty matches every album.
        genre: only albums of this genre.
        artist_id: only this artist's albums.
        sort_by: the sort key; a leading "-" sorts descending (default: newest first).
        page_index: the page to return, starting at 0.
        page_limit: the number of albums per page (at most 20).

    Returns:
        [{"album_id": integer, "title": string, "artist_id": integer, "artist_name": string, "genre": string, "release_date": string, "song_count": integer}]
    """
    clause, params = _like_clause(query, "a.title", "r.name")
    where: list[str] = [clause]
    for column, value in (("a.genre", genre), ("a.artist_id", artist_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    sql = f"SELECT a.*, r.name AS artist_name FROM music_albums a JOIN music_artists r ON r.id = a.artist_id WHERE {' AND '.join(where)} ORDER BY {_order(sort_by, 'a.')}"
    return _album_rows(ctx, paginate(ctx, sql, params, page_index, page_limit))


@APP.api
def show_album(ctx: Ctx, access_token: str, album_id: int) -> dict[str, Any]:
    """Show an album with its songs in track order.

    Args:
        access_token: your access token from login.
        album_id: the album to show.

    Returns:
        {"album_id": integer, "title": string, "artist_id": integer, "artist_name": string, "genre": string, "release_date": string, "song_count": integer, "songs": [{"song_id": integer, "title": string, "track_number": integer, "duration_seconds": integer}], "liked": boolean, "in_library": boolean}
    """
    row = _album_by_id(ctx, album_id)
    songs = ctx.all("SELECT id, title, track_number, duration_seconds FROM music_songs WHERE album_id = ? ORDER BY track_number", (album_id,))
    out = _album(row, len(songs))
    out["songs"] = [{"song_id": s["id"], "title": s["title"], "track_number": s["track_number"], "duration_seconds": s["duration_seconds"]} for s in songs]
    out["liked"] = ctx.one("SELECT id FROM music_album_likes WHERE user_id = ? AND album_id = ?", (ctx.user_id, album_id)) is not None
    out["in_library"] = ctx.one("SELECT id FROM music_library_albums WHERE user_id = ? AND album_id = ?", (ctx.user_id, album_id)) is not None
    return out


@APP.api
def search_artists(
    ctx: Ctx,
    access_token: str,
    query: Query = "",
    genre: Genre | None = None,
    sort_by: Literal["name", "-name", "formed_year", "-formed_year"] = "name",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """Search artists by name.

    Args:
        access_token: your access token from login.
        query: text found in the artist's name (case-insensitive); empty matches every artist.
        genre: only artists of this genre.
        sort_by: the sort key; a leading "-" sorts descending.
        page_index: the page to return, starting at 0.
        page_limit: the number of artists per page (at most 20).

    Returns:
        [{"artist_id": integer, "name": string, "genre": string, "country": string, "formed_year": integer, "follower_count": integer}]
    """
    clause, params = _like_clause(query, "name")
    where = [clause]
    if genre is not None:
        where.append("genre = ?")
        params.append(genre)
    sql = f"SELECT * FROM music_artists WHERE {' AND '.join(where)} ORDER BY {_order(sort_by)}"
    return [_artist(ctx, r) for r in paginate(ctx, sql, params, page_index, page_limit)]


@APP.api
def show_artist(ctx: Ctx, access_token: str, artist_id: int) -> dict[str, Any]:
    """Show an artist, with their album count and whether you follow them.

    Args:
        access_token: your access token from login.
        artist_id: the artist to show.

    Returns:
        {"artist_id": integer, "name": string, "genre": string, "country": string, "formed_year": integer, "follower_count": integer, "album_count": integer, "song_count": integer, "following": boolean}
    """
    out = _artist(ctx, _artist_by_id(ctx, artist_id))
    out["album_count"] = ctx.one("SELECT COUNT(*) AS n FROM music_albums WHERE artist_id = ?", (artist_id,))["n"]
    out["song_count"] = ctx.one("SELECT COUNT(*) AS n FROM music_songs WHERE artist_id = ?", (artist_id,))["n"]
    out["following"] = ctx.one("SELECT id FROM music_artist_follows WHERE user_id = ? AND artist_id = ?", (ctx.user_id, artist_id)) is not None
    return out


# ---- playlists ------------------------------------------------------------------------------------


def _playlist(ctx: Ctx, row: dict[str, Any]) -> dict[str, Any]:
    n = ctx.one("SELECT COUNT(*) AS n FROM music_playlist_songs WHERE playlist_id = ?", (row["id"],))["n"]
    owner = ctx.one("SELECT email FROM users WHERE id = ?", (row["user_id"],))
    return {
        "playlist_id": row["id"],
        "title": row["title"],
        "description": row["description"],
        "is_public": bool(row["is_public"]),
        "owner_email": owner["email"] if owner else None,
        "song_count": n,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _own_playlist(ctx: Ctx, playlist_id: int) -> dict[str, Any]:
    return ctx.require("music_playlists", playlist_id, "playlist")


def _readable_playlist(ctx: Ctx, playlist_id: int) -> dict[str, Any]:
    row = ctx.one("SELECT * FROM music_playlists WHERE id = ?", (playlist_id,))
    if row is None:
        raise ApiError(404, f"No playlist found with id {playlist_id}.")
    if row["user_id"] != ctx.user_id and not row["is_public"]:
        raise ApiError(403, f"The playlist with id {playlist_id} is private and not yours.")
    return row


@APP.api
def show_playlists(ctx: Ctx, access_token: str, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> list[dict[str, Any]]:
    """List your own playlists, oldest first.

    Args:
        access_token: your access token from login.
        page_index: the page to return, starting at 0.
        page_limit: the number of playlists per page (at most 20).

    Returns:
        [{"playlist_id": integer, "title": string, "description": string, "is_public": boolean, "owner_email": string, "song_count": integer, "created_at": string, "updated_at": string}]
    """
    rows = paginate(ctx, "SELECT * FROM music_playlists WHERE user_id = ? ORDER BY id", (ctx.user_id,), page_index, page_limit)
    return [_playlist(ctx, r) for r in rows]


@APP.api
def search_playlists(
    ctx: Ctx,
    access_token: str,
    query: Query = "",
    owner_email: str | None = None,
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """Search public playlists (anyone's) and your own by title or description.

    Args:
        access_token: your access token from login.
        query: text found in the title or description (case-insensitive); empty matches every playlist.
        owner_email: only playlists of the user with this email address.
        page_index: the page to return, starting at 0.
        page_limit: the number of playlists per page (at most 20).

    Returns:
        [{"playlist_id": integer, "title": string, "description": string, "is_public": boolean, "owner_email": string, "song_count": integer, "created_at": string, "updated_at": string}]
    """
    clause, params = _like_clause(query, "p.title", "p.description")
    where: list[Any] = [clause, "(p.is_public = 1 OR p.user_id = ?)"]
    params.append(ctx.user_id)
    if owner_email is not None:
        where.append("lower(u.email) = ?")
        params.append(owner_email.strip().lower())
    sql = f"SELECT p.* FROM music_playlists p JOIN users u ON u.id = p.user_id WHERE {' AND '.join(where)} ORDER BY p.id"
    return [_playlist(ctx, r) for r in paginate(ctx, sql, params, page_index, page_limit)]


@APP.api
def show_playlist(ctx: Ctx, access_token: str, playlist_id: int) -> dict[str, Any]:
    """Show a playlist's details (yours, or anyone's public one). Its songs are listed by show_playlist_songs.

    Args:
        access_token: your access token from login.
        playlist_id: the playlist to show.

    Returns:
        {"playlist_id": integer, "title": string, "description": string, "is_public": boolean, "owner_email": string, "song_count": integer, "total_duration_seconds": integer, "created_at": string, "updated_at": string}
    """
    row = _readable_playlist(ctx, playlist_id)
    out = _playlist(ctx, row)
    out["total_duration_seconds"] = ctx.one(
        "SELECT COALESCE(SUM(s.duration_seconds), 0) AS d FROM music_playlist_songs ps JOIN music_songs s ON s.id = ps.song_id WHERE ps.playlist_id = ?",
        (playlist_id,),
    )["d"]
    return out


@APP.api
def show_playlist_songs(ctx: Ctx, access_token: str, playlist_id: int, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> list[dict[str, Any]]:
    """List a playlist's songs in playlist order (yours, or anyone's public playlist).

    Args:
        access_token: your access token from login.
        playlist_id: the playlist.
        page_index: the page to return, starting at 0.
        page_limit: the number of songs per page (at most 20).

    Returns:
        [{"position": integer, "added_at": string, "song_id": integer, "title": string, "artist_id": integer, "artist_name": string, "album_id": integer, "album_title": string, "genre": string, "track_number": integer, "duration_seconds": integer, "release_date": string, "play_count": integer}]
    """
    _readable_playlist(ctx, playlist_id)
    sql = """SELECT s.*, a.title AS album_title, r.name AS artist_name, ps.position, ps.added_at FROM music_playlist_songs ps
JOIN music_songs s ON s.id = ps.song_id JOIN music_albums a ON a.id = s.album_id JOIN music_artists r ON r.id = s.artist_id
WHERE ps.playlist_id = ? ORDER BY ps.position"""
    return [{"position": r["position"], "added_at": r["added_at"], **_song(r)} for r in paginate(ctx, sql, (playlist_id,), page_index, page_limit)]


@APP.api
def create_playlist(
    ctx: Ctx, access_token: str, title: PlaylistTitle, description: Annotated[str, Field(max_length=300)] = "", is_public: bool = False
) -> dict[str, Any]:
    """Create an empty playlist.

    Args:
        access_token: your access token from login.
        title: the playlist's title; must be unique among your playlists.
        description: a description.
        is_public: whether other users can find and read it.

    Returns:
        {"playlist_id": integer, "message": string}
    """
    if ctx.one("SELECT id FROM music_playlists WHERE user_id = ? AND title = ?", (ctx.user_id, title)):
        raise ApiError(409, f"You already have a playlist titled {title!r}.")
    ts = ctx.clock.timestamp()
    pid = ctx.insert("music_playlists", user_id=ctx.user_id, title=title, description=description, is_public=int(is_public), created_at=ts, updated_at=ts)
    return {"playlist_id": pid, "message": "Playlist created."}


@APP.api
def update_playlist(
    ctx: Ctx,
    access_token: str,
    playlist_id: int,
    title: PlaylistTitle | None = None,
    description: Annotated[str, Field(max_length=300)] | None = None,
    is_public: bool | None = None,
) -> dict[str, Any]:
    """Change a playlist's title, description or visibility; parameters left null are unchanged.

    Args:
        access_token: your access token from login.
        playlist_id: the playlist to change.
        title: the new title; must be unique among your playlists.
        description: the new description.
        is_public: true to make it public, false to make it private.

    Returns:
        {"message": string}
    """
    _own_playlist(ctx, playlist_id)
    values: dict[str, Any] = {}
    if title is not None:
        if ctx.one("SELECT id FROM music_playlists WHERE user_id = ? AND title = ? AND id != ?", (ctx.user_id, title, playlist_id)):
            raise ApiError(409, f"You already have a playlist titled {title!r}.")
        values["title"] = title
    if description is not None:
        values["description"] = description
    if is_public is not None:
        values["is_public"] = int(is_public)
    if not values:
        raise ApiError(422, "Invalid value for parameter(s): title.", errors=[{"parameter": "title", "error": "give at least one field to change"}])
    ctx.update("music_playlists", playlist_id, updated_at=ctx.clock.timestamp(), **values)
    return {"message": "Playlist updated."}


@APP.api
def delete_playlist(ctx: Ctx, access_token: str, playlist_id: int) -> dict[str, Any]:
    """Delete one of your playlists (the songs stay in the catalog and your library).

    Args:
        access_token: your access token from login.
        playlist_id: the playlist to delete.

    Returns:
        {"message": string}
    """
    _own_playlist(ctx, playlist_id)
    ctx.db.execute("DELETE FROM music_playlist_songs WHERE playlist_id = ?", (playlist_id,))
    ctx.delete("music_playlists", playlist_id)
    return {"message": "Playlist deleted."}


@APP.api
def add_song_to_playlist(ctx: Ctx, access_token: str, playlist_id: int, song_id: int) -> dict[str, Any]:
    """Add a song at the end of one of your playlists.

    Args:
        access_token: your access token from login.
        playlist_id: the playlist.
        song_id: the song to add; a song can be in a playlist only once.

    Returns:
        {"message": string, "position": integer}
    """
    _own_playlist(ctx, playlist_id)
    _song_by_id(ctx, song_id)
    if ctx.one("SELECT id FROM music_playlist_songs WHERE playlist_id = ? AND song_id = ?", (playlist_id, song_id)):
        raise ApiError(409, f"The song with id {song_id} is already in the playlist.")
    position = ctx.one("SELECT COALESCE(MAX(position), 0) + 1 AS p FROM music_playlist_songs WHERE playlist_id = ?", (playlist_id,))["p"]
    ts = ctx.clock.timestamp()
    ctx.insert("music_playlist_songs", playlist_id=playlist_id, song_id=song_id, position=position, added_at=ts)
    ctx.update("music_playlists", playlist_id, updated_at=ts)
    return {"message": "Song added to the playlist.", "position": position}


@APP.api
def remove_song_from_playlist(ctx: Ctx, access_token: str, playlist_id: int, song_id: int) -> dict[str, Any]:
    """Remove a song from one of your playlists (the songs after it move up one position).

    Args:
        access_token: your access token from login.
        playlist_id: the playlist.
        song_id: the song to remove.

    Returns:
        {"message": string}
    """
    _own_playlist(ctx, playlist_id)
    row = ctx.one("SELECT * FROM music_playlist_songs WHERE playlist_id = ? AND song_id = ?", (playlist_id, song_id))
    if row is None:
        raise ApiError(404, f"The song with id {song_id} is not in the playlist.")
    ctx.delete("music_playlist_songs", row["id"])
    ctx.db.execute("UPDATE music_playlist_songs SET position = position - 1 WHERE playlist_id = ? AND position > ?", (playlist_id, row["position"]))
    ctx.update("music_playlists", playlist_id, updated_at=ctx.clock.timestamp())
    return {"message": "Song removed from the playlist."}


# ---- library, likes, follows ----------------------------------------------------------------------


def _saved_songs(ctx: Ctx, table: str, time_column: str, sort_by: str, page_index: int, page_limit: int) -> list[dict[str, Any]]:
    order = _order(sort_by, "s.") if sort_by.lstrip("-") != "added_at" else f"x.{time_column} {'DESC' if sort_by.startswith('-') else 'ASC'}, x.id"
    sql = f"""SELECT s.*, a.title AS album_title, r.name AS artist_name, x.{time_column} AS saved_at FROM {table} x
JOIN music_songs s ON s.id = x.song_id JOIN music_albums a ON a.id = s.album_id JOIN music_artists r ON r.id = s.artist_id
WHERE x.user_id = ? ORDER BY {order}"""
    return [{**_song(r), time_column: r["saved_at"]} for r in paginate(ctx, sql, (ctx.user_id,), page_index, page_limit)]


SavedSort = Literal["added_at", "-added_at", "title", "-title", "play_count", "-play_count", "release_date", "-release_date"]


# Personal collections: table -> (catalog column, timestamp column, what the state is called).
_COLLECTIONS = {
    "music_library_songs": ("song_id", "added_at", "in your library"),
    "music_library_albums": ("album_id", "added_at", "in your library"),
    "music_song_likes": ("song_id", "liked_at", "liked"),
    "music_album_likes": ("album_id", "liked_at", "liked"),
    "music_artist_follows": ("artist_id", "followed_at", "followed"),
}


def _save(ctx: Ctx, table: str, value: int) -> None:
    column, time_column, state = _COLLECTIONS[table]
    if ctx.one(f"SELECT id FROM {table} WHERE user_id = ? AND {column} = ?", (ctx.user_id, value)):
        raise ApiError(409, f"The {column.removesuffix('_id')} with id {value} is already {state}.")
    ctx.insert(table, user_id=ctx.user_id, **{column: value, time_column: ctx.clock.timestamp()})


def _unsave(ctx: Ctx, table: str, value: int) -> None:
    column, _, state = _COLLECTIONS[table]
    row = ctx.one(f"SELECT id FROM {table} WHERE user_id = ? AND {column} = ?", (ctx.user_id, value))
    if row is None:
        raise ApiError(404, f"The {column.removesuffix('_id')} with id {value} is not {state}.")
    ctx.delete(table, row["id"])


@APP.api
def show_song_library(
    ctx: Ctx, access_token: str, sort_by: SavedSort = "-added_at", page_index: PageIndex = 0, page_limit: PageLimit = 5
) -> list[dict[str, Any]]:
    """List the songs saved in your library.

    Args:
        access_token: your access token from login.
        sort_by: the sort key ("added_at" is when you saved it); a leading "-" sorts descending.
        page_index: the page to return, starting at 0.
        page_limit: the number of songs per page (at most 20).

    Returns:
        [{"song_id": integer, "title": string, "artist_id": integer, "artist_name": string, "album_id": integer, "album_title": string, "genre": string, "track_number": integer, "duration_seconds": integer, "release_date": string, "play_count": integer, "added_at": string}]
    """
    return _saved_songs(ctx, "music_library_songs", "added_at", sort_by, page_index, page_limit)


@APP.api
def add_song_to_library(ctx: Ctx, access_token: str, song_id: int) -> dict[str, Any]:
    """Save a song in your library.

    Args:
        access_token: your access token from login.
        song_id: the song to save.

    Returns:
        {"message": string}
    """
    _song_by_id(ctx, song_id)
    _save(ctx, "music_library_songs", song_id)
    return {"message": "Song added to your library."}


@APP.api
def remove_song_from_library(ctx: Ctx, access_token: str, song_id: int) -> dict[str, Any]:
    """Remove a song from your library.

    Args:
        access_token: your access token from login.
        song_id: the song to remove.

    Returns:
        {"message": string}
    """
    _unsave(ctx, "music_library_songs", song_id)
    return {"message": "Song removed from your library."}


@APP.api
def show_album_library(ctx: Ctx, access_token: str, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> list[dict[str, Any]]:
    """List the albums saved in your library, most recently saved first.

    Args:
        access_token: your access token from login.
        page_index: the page to return, starting at 0.
        page_limit: the number of albums per page (at most 20).

    Returns:
        [{"album_id": integer, "title": string, "artist_id": integer, "artist_name": string, "genre": string, "release_date": string, "song_count": integer, "added_at": string}]
    """
    sql = """SELECT a.*, r.name AS artist_name, x.added_at FROM music_library_albums x JOIN music_albums a ON a.id = x.album_id
JOIN music_artists r ON r.id = a.artist_id WHERE x.user_id = ? ORDER BY x.added_at DESC, x.id"""
    rows = paginate(ctx, sql, (ctx.user_id,), page_index, page_limit)
    return [{**album, "added_at": r["added_at"]} for album, r in zip(_album_rows(ctx, rows), rows)]


@APP.api
def add_album_to_library(ctx: Ctx, access_token: str, album_id: int) -> dict[str, Any]:
    """Save an album in your library.

    Args:
        access_token: your access token from login.
        album_id: the album to save.

    Returns:
        {"message": string}
    """
    _album_by_id(ctx, album_id)
    _save(ctx, "music_library_albums", album_id)
    return {"message": "Album added to your library."}


@APP.api
def remove_album_from_library(ctx: Ctx, access_token: str, album_id: int) -> dict[str, Any]:
    """Remove an album from your library.

    Args:
        access_token: your access token from login.
        album_id: the album to remove.

    Returns:
        {"message": string}
    """
    _unsave(ctx, "music_library_albums", album_id)
    return {"message": "Album removed from your library."}


@APP.api
def show_liked_songs(
    ctx: Ctx, access_token: str, sort_by: SavedSort = "-added_at", page_index: PageIndex = 0, page_limit: PageLimit = 5
) -> list[dict[str, Any]]:
    """List the songs you liked.

    Args:
        access_token: your access token from login.
        sort_by: the sort key ("added_at" is when you liked it); a leading "-" sorts descending.
        page_index: the page to return, starting at 0.
        page_limit: the number of songs per page (at most 20).

    Returns:
        [{"song_id": integer, "title": string, "artist_id": integer, "artist_name": string, "album_id": integer, "album_title": string, "genre": string, "track_number": integer, "duration_seconds": integer, "release_date": string, "play_count": integer, "liked_at": string}]
    """
    return _saved_songs(ctx, "music_song_likes", "liked_at", sort_by, page_index, page_limit)


@APP.api
def like_song(ctx: Ctx, access_token: str, song_id: int) -> dict[str, Any]:
    """Like a song.

    Args:
        access_token: your access token from login.
        song_id: the song to like.

    Returns:
        {"message": string}
    """
    _song_by_id(ctx, song_id)
    _save(ctx, "music_song_likes", song_id)
    return {"message": "Song liked."}


@APP.api
def unlike_song(ctx: Ctx, access_token: str, song_id: int) -> dict[str, Any]:
    """Remove your like from a song.

    Args:
        access_token: your access token from login.
        song_id: the song to unlike.

    Returns:
        {"message": string}
    """
    _unsave(ctx, "music_song_likes", song_id)
    return {"message": "Song unliked."}


@APP.api
def show_liked_albums(ctx: Ctx, access_token: str, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> list[dict[str, Any]]:
    """List the albums you liked, most recently liked first.

    Args:
        access_token: your access token from login.
        page_index: the page to return, starting at 0.
        page_limit: the number of albums per page (at most 20).

    Returns:
        [{"album_id": integer, "title": string, "artist_id": integer, "artist_name": string, "genre": string, "release_date": string, "song_count": integer, "liked_at": string}]
    """
    sql = """SELECT a.*, r.name AS artist_name, x.liked_at FROM music_album_likes x JOIN music_albums a ON a.id = x.album_id
JOIN music_artists r ON r.id = a.artist_id WHERE x.user_id = ? ORDER BY x.liked_at DESC, x.id"""
    rows = paginate(ctx, sql, (ctx.user_id,), page_index, page_limit)
    return [{**album, "liked_at": r["liked_at"]} for album, r in zip(_album_rows(ctx, rows), rows)]


@APP.api
def like_album(ctx: Ctx, access_token: str, album_id: int) -> dict[str, Any]:
    """Like an album.

    Args:
        access_token: your access token from login.
        album_id: the album to like.

    Returns:
        {"message": string}
    """
    _album_by_id(ctx, album_id)
    _save(ctx, "music_album_likes", album_id)
    return {"message": "Album liked."}


@APP.api
def unlike_album(ctx: Ctx, access_token: str, album_id: int) -> dict[str, Any]:
    """Remove your like from an album.

    Args:
        access_token: your access token from login.
        album_id: the album to unlike.

    Returns:
        {"message": string}
    """
    _unsave(ctx, "music_album_likes", album_id)
    return {"message": "Album unliked."}


@APP.api
def show_following_artists(ctx: Ctx, access_token: str, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> list[dict[str, Any]]:
    """List the artists you follow, by name.

    Args:
        access_token: your access token from login.
        page_index: the page to return, starting at 0.
        page_limit: the number of artists per page (at most 20).

    Returns:
        [{"artist_id": integer, "name": string, "genre": string, "country": string, "formed_year": integer, "follower_count": integer, "followed_at": string}]
    """
    sql = "SELECT r.*, f.followed_at FROM music_artist_follows f JOIN music_artists r ON r.id = f.artist_id WHERE f.user_id = ? ORDER BY r.name, r.id"
    return [{**_artist(ctx, r), "followed_at": r["followed_at"]} for r in paginate(ctx, sql, (ctx.user_id,), page_index, page_limit)]


@APP.api
def follow_artist(ctx: Ctx, access_token: str, artist_id: int) -> dict[str, Any]:
    """Follow an artist.

    Args:
        access_token: your access token from login.
        artist_id: the artist to follow.

    Returns:
        {"message": string}
    """
    _artist_by_id(ctx, artist_id)
    _save(ctx, "music_artist_follows", artist_id)
    return {"message": "Artist followed."}


@APP.api
def unfollow_artist(ctx: Ctx, access_token: str, artist_id: int) -> dict[str, Any]:
    """Stop following an artist.

    Args:
        access_token: your access token from login.
        artist_id: the artist to unfollow.

    Returns:
        {"message": string}
    """
    _unsave(ctx, "music_artist_follows", artist_id)
    return {"message": "Artist unfollowed."}


# ---- playing --------------------------------------------------------------------------------------


@APP.api
def play_song(ctx: Ctx, access_token: str, song_id: int) -> dict[str, Any]:
    """Play a song: it is added to your play history and its play count goes up by one.

    Args:
        access_token: your access token from login.
        song_id: the song to play.

    Returns:
        {"message": string, "title": string, "artist_name": string}
    """
    song = _song_by_id(ctx, song_id)
    ctx.insert("music_play_history", user_id=ctx.user_id, song_id=song_id, played_at=ctx.clock.timestamp())
    ctx.update("music_songs", song_id, play_count=song["play_count"] + 1)
    return {"message": "Now playing.", "title": song["title"], "artist_name": song["artist_name"]}


@APP.api
def show_play_history(
    ctx: Ctx,
    access_token: str,
    played_after: str | None = None,
    played_before: str | None = None,
    sort_by: Literal["played_at", "-played_at"] = "-played_at",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """List the songs you played, one entry per play, newest first by default.

    Args:
        access_token: your access token from login.
        played_after: only plays at or after this date or datetime (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS).
        played_before: only plays before this date or datetime (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS).
        sort_by: "played_at" (oldest first) or "-played_at" (newest first).
        page_index: the page to return, starting at 0.
        page_limit: the number of plays per page (at most 20).

    Returns:
        [{"play_id": integer, "played_at": string, "song_id": integer, "title": string, "artist_id": integer, "artist_name": string, "album_id": integer, "album_title": string, "genre": string, "track_number": integer, "duration_seconds": integer, "release_date": string, "play_count": integer}]
    """
    where, params = ["h.user_id = ?"], [ctx.user_id]
    if played_after is not None:
        where.append("h.played_at >= ?")
        params.append(played_after)
    if played_before is not None:
        where.append("h.played_at < ?")
        params.append(played_before)
    direction = "DESC" if sort_by.startswith("-") else "ASC"
    sql = f"""SELECT s.*, a.title AS album_title, r.name AS artist_name, h.id AS play_id, h.played_at FROM music_play_history h
JOIN music_songs s ON s.id = h.song_id JOIN music_albums a ON a.id = s.album_id JOIN music_artists r ON r.id = s.artist_id
WHERE {" AND ".join(where)} ORDER BY h.played_at {direction}, h.id {direction}"""
    return [{"play_id": r["play_id"], "played_at": r["played_at"], **_song(r)} for r in paginate(ctx, sql, params, page_index, page_limit)]


@APP.api
def clear_play_history(ctx: Ctx, access_token: str) -> dict[str, Any]:
    """Delete your whole play history (play counts are not changed).

    Args:
        access_token: your access token from login.

    Returns:
        {"message": string, "deleted": integer}
    """
    cur = ctx.db.execute("DELETE FROM music_play_history WHERE user_id = ?", (ctx.user_id,))
    return {"message": "Play history cleared.", "deleted": cur.rowcount}


@APP.api
def show_recommendations(ctx: Ctx, access_token: str, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> list[dict[str, Any]]:
    """Songs picked for you: the most played songs of the genres you play most, leaving out songs in your library or liked.

    Args:
        access_token: your access token from login.
        page_index: the page to return, starting at 0.
        page_limit: the number of songs per page (at most 20).

    Returns:
        [{"song_id": integer, "title": string, "artist_id": integer, "artist_name": string, "album_id": integer, "album_title": string, "genre": string, "track_number": integer, "duration_seconds": integer, "release_date": string, "play_count": integer}]
    """
    top = ctx.all(
        "SELECT s.genre, COUNT(*) AS n FROM music_play_history h JOIN music_songs s ON s.id = h.song_id WHERE h.user_id = ? GROUP BY s.genre ORDER BY n DESC, s.genre LIMIT 3",
        (ctx.user_id,),
    )
    genres = [r["genre"] for r in top] or list(GENRES[:3])
    marks = ",".join("?" for _ in genres)
    sql = f"""{_SONG_SQL} WHERE s.genre IN ({marks})
AND s.id NOT IN (SELECT song_id FROM music_library_songs WHERE user_id = ?)
AND s.id NOT IN (SELECT song_id FROM music_song_likes WHERE user_id = ?) ORDER BY s.play_count DESC, s.id"""
    return [_song(r) for r in paginate(ctx, sql, (*genres, ctx.user_id, ctx.user_id), page_index, page_limit)]


# -------------------------------------------------------------------------------------------------
# Seed data

_FIRST = [
    "Velvet",
    "Neon",
    "Silver",
    "Midnight",
    "Golden",
    "Electric",
    "Crimson",
    "Paper",
    "Glass",
    "Wild",
    "Hollow",
    "Lunar",
    "Static",
    "Amber",
    "Copper",
    "Honey",
    "Iron",
    "Violet",
    "Echo",
    "Northern",
]
_SECOND = [
    "Harbor",
    "Foxes",
    "Pines",
    "Engines",
    "Tides",
    "Lanterns",
    "Orchids",
    "Rivers",
    "Signals",
    "Comets",
    "Wolves",
    "Gardens",
    "Parade",
    "Mirrors",
    "Sparrows",
    "Canyons",
    "Satellites",
    "Ghosts",
    "Hearts",
    "Motel",
]
_WORDS_A = [
    "Summer",
    "Broken",
    "Quiet",
    "Endless",
    "Burning",
    "Falling",
    "Dancing",
    "Lonely",
    "Bright",
    "Silent",
    "Restless",
    "Shallow",
    "Faded",
    "Secret",
    "Sweet",
    "Golden",
    "Distant",
    "Frozen",
    "Running",
    "Crooked",
]
_WORDS_B = [
    "Rain",
    "Skyline",
    "Highway",
    "Letters",
    "Shadows",
    "Heartbeat",
    "Morning",
    "Waves",
    "Fire",
    "Streets",
    "Dreams",
    "Horizon",
    "Stars",
    "Promises",
    "Echoes",
    "Thunder",
    "Roses",
    "Window",
    "Mountain",
    "Radio",
]
_COUNTRIES = ["United States", "United Kingdom", "Canada", "Australia", "Sweden", "Ireland", "Nigeria", "Brazil", "Japan", "South Korea"]
_PLAYLISTS = [
    ("Morning Run", "Fast songs to get moving"),
    ("Chill Evenings", "Slow songs for winding down"),
    ("Road Trip", "Sing-along songs for long drives"),
    ("Focus", "Instrumental and quiet tracks for deep work"),
    ("Party Mix", "Crowd pleasers"),
    ("Throwbacks", "Old favourites"),
]


def seed(gen: Gen) -> None:
    rng, now = gen.rng, gen.now
    names = rng.sample([f"{a} {b}" for a in _FIRST for b in _SECOND], 40)
    song_ids: list[int] = []
    album_ids: list[int] = []
    titles_seen: set[str] = set()
    for i, name in enumerate(names):
        genre = GENRES[i % len(GENRES)]
        artist_id = gen.insert("music_artists", name=name, genre=genre, country=rng.choice(_COUNTRIES), formed_year=rng.randint(1975, 2020))
        for _ in range(rng.randint(2, 4)):
            album_title = f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)}"
            release = (now - timedelta(days=rng.randint(20, 3650))).date().isoformat()
            album_id = gen.insert("music_albums", title=album_title, artist_id=artist_id, genre=genre, release_date=release)
            album_ids.append(album_id)
            for track in range(1, rng.randint(6, 11)):
                while True:  # unique song titles, so "the song X" names one song
                    title = (
                        f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)}"
                        if rng.random() < 0.5
                        else f"{rng.choice(_WORDS_B)} of {rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)}"
                    )
                    if title not in titles_seen:
                        titles_seen.add(title)
                        break
                song_ids.append(
                    gen.insert(
                        "music_songs",
                        title=title,
                        album_id=album_id,
                        artist_id=artist_id,
                        genre=genre,
                        track_number=track,
                        duration_seconds=rng.randint(120, 420),
                        release_date=release,
                        play_count=rng.randint(1_000, 5_000_000),
                    )
                )
    artist_ids = list(range(1, len(names) + 1))

    def ts(days_back_max: int, days_back_min: int = 0) -> str:
        return (now - timedelta(days=rng.randint(days_back_min, days_back_max), minutes=rng.randint(0, 1439))).isoformat(timespec="seconds")

    for person in gen.people:
        mine = person["id"] == gen.user["id"]
        # Each person leans to a few genres; their library, likes and plays mostly come from those.
        favourite = rng.sample(GENRES, 3)
        pool = [s for s in song_ids if rng.random() < 0.5] if not mine else song_ids
        genre_of = None
        if mine:
            rows = gen.db.execute("SELECT id, genre FROM music_songs").fetchall()
            genre_of = {r[0]: r[1] for r in rows}
            pool = [s for s in song_ids if genre_of[s] in favourite or rng.random() < 0.15]
        n_lib, n_like, n_follow, n_plays, n_lists = (
            (80, 50, 10, 400, 5) if mine else (rng.randint(5, 15), rng.randint(3, 10), rng.randint(1, 4), rng.randint(5, 25), rng.randint(0, 2))
        )
        for sid in rng.sample(pool, n_lib):
            gen.insert("music_library_songs", user_id=person["id"], song_id=sid, added_at=ts(400, 1))
        for sid in rng.sample(pool, n_like):
            gen.insert("music_song_likes", user_id=person["id"], song_id=sid, liked_at=ts(400, 1))
        for aid in rng.sample(album_ids, 8 if mine else rng.randint(0, 3)):
            gen.insert("music_library_albums", user_id=person["id"], album_id=aid, added_at=ts(400, 1))
        for aid in rng.sample(album_ids, 6 if mine else rng.randint(0, 2)):
            gen.insert("music_album_likes", user_id=person["id"], album_id=aid, liked_at=ts(400, 1))
        for aid in rng.sample(artist_ids, n_follow):
            gen.insert("music_artist_follows", user_id=person["id"], artist_id=aid, followed_at=ts(600, 1))
        # Most plays go to a few songs on heavy rotation (weighted), the rest anywhere in the pool.
        rotation = rng.sample(pool, min(25, len(pool)))
        weights = list(range(len(rotation), 0, -1))
        for _ in range(n_plays):
            sid = rng.choices(rotation, weights)[0] if rng.random() < 0.6 else rng.choice(pool)
            gen.insert("music_play_history", user_id=person["id"], song_id=sid, played_at=ts(90))
        for title, description in rng.sample(_PLAYLISTS, n_lists):
            created = ts(300, 30)
            pid = gen.insert(
                "music_playlists",
                user_id=person["id"],
                title=title,
                description=description,
                is_public=int(rng.random() < 0.5),
                created_at=created,
                updated_at=created,
            )
            for position, sid in enumerate(rng.sample(pool, rng.randint(8, 24) if mine else rng.randint(3, 8)), start=1):
                gen.insert("music_playlist_songs", playlist_id=pid, song_id=sid, position=position, added_at=created)
