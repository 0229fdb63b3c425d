from typing import Any

class Decoder:
    max_header_list_size: int
    max_allowed_table_size: int
    header_table_size: int
    def __init__(self, max_header_list_size: int = 65536) -> None: ...
    def decode(self, data: bytes | bytearray | memoryview, raw: bool = False) -> list[Any]: ...

class Encoder:
    header_table_size: int
    def encode(self, headers: Any, huffman: bool = True) -> bytes: ...

def qpack_literal_block(pairs: list[tuple[bytes, bytes]]) -> bytes: ...
