"""The floor: a one-line sync FastAPI route, served exactly like `kvit serve` serves Kvit."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/")
def root() -> dict[str, str]:
    return {"status": "ok"}
