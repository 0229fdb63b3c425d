MAX_HEADER_FIELDS: int
MAX_HEAD_BYTES: int

class Malformed(Exception): ...

def response_fields(
    raw: list[tuple[bytes, bytes]], head: bool
) -> tuple[int, list[tuple[str, str]]]: ...
