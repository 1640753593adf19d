"""A small JSON web service."""

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

__version__ = "0.1.0"


async def health(request):
    return JSONResponse({"status": "ok", "version": __version__})


app = Starlette(routes=[Route("/health", health)])
