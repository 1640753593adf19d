from starlette.testclient import TestClient

from webservice import app


def test_health():
    response = TestClient(app).get("/health")
    assert response.json()["status"] == "ok"
