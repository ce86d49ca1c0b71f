"""The `<id:…>` path converter for database ids, registered once by config/urls.py."""

# The largest value of a BIGINT (and of an SQLite INTEGER): every id column holds at most this.
MAX_DATABASE_ID = 2**63 - 1


class DatabaseIdConverter:
    """A database id in a path: digits that fit a BIGINT. A longer number names no row, so the
    path does not match (a 404, like any unknown id) instead of reaching a query that SQLite
    refuses with OverflowError (a 500)."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_DATABASE_ID:
            raise ValueError("Past the largest database id.")
        return number

    def to_url(self, value) -> str:
        return str(int(value))
