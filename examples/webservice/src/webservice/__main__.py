"""`webservice`: serve the app with uvicorn on port 8000."""

import uvicorn


def main() -> None:
    uvicorn.run("webservice:app", host="127.0.0.1", port=8000)


if __name__ == "__main__":
    main()
