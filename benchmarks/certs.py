"""A throw-away CA and a server certificate for 127.0.0.1, made with trustme, kept under .bench/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certs:
    ca: Path  # PEM given to every client
    chain: Path  # server certificate chain (PEM)
    key: Path  # server private key (PEM)


def ensure_certs(directory: Path) -> Certs:
    certs = Certs(
        directory / "ca.pem", directory / "server-chain.pem", directory / "server-key.pem"
    )
    if all(p.exists() for p in (certs.ca, certs.chain, certs.key)):
        return certs
    import trustme  # only in the runner's tool venv

    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(certs.ca))
    leaf.private_key_pem.write_to_path(str(certs.key))
    with certs.chain.open("wb") as f:
        for blob in leaf.cert_chain_pems:
            f.write(blob.bytes())
    return certs
