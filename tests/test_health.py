from pathlib import Path

from taskmanager import create_app
from taskmanager.config import load_settings


def test_healthy_and_versions(client) -> None:
    assert client.get("/-/healthy").status_code == 200
    response = client.get("/-/versions")
    assert response.status_code == 200
    body = response.get_json()
    # task-client takes the highest key as a float and looks up str(float): "1.0".
    assert body["api_versions"] == {"1.0": "/api/v1/"}
    assert str(max(float(key) for key in body["api_versions"])) in body["api_versions"]


def test_ready_when_database_answers(client) -> None:
    response = client.get("/-/ready")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"


def test_not_ready_when_database_unreachable(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "SQLALCHEMY_DATABASE_URI": "postgresql://nobody@127.0.0.1:9/none?connect_timeout=2",
            "SECRET_KEY": "k",
            "SECURITY_PASSWORD_SALT": "s",
            "TASKMAN_INSTANCE_PATH": str(tmp_path),
            "TASKMAN_AUTO_MIGRATE": "false",
            # No callback thread polling a database that is not there for the rest of the run.
            "TASKMAN_CALLBACK_WORKER": "false",
        }
    )
    app = create_app(settings)
    response = app.test_client().get("/-/ready")
    assert response.status_code == 503
    assert response.get_json()["ready"] is False


def test_swagger_ui_is_served_from_the_package(client) -> None:
    page = client.get("/api/v1/")
    assert page.status_code == 200
    assert b"swagger-ui" in page.data and b"cdn." not in page.data
    bundle = client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    bundle.close()
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/users" in spec["paths"]
    assert "basicAuth" in spec["components"]["securitySchemes"]
