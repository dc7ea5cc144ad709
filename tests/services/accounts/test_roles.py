import pytest

from taskmanager.services.accounts import roles
from taskmanager.services.kit.errors import Conflict, InvalidInput, NotFound


def test_default_roles_are_found_by_name_id_or_url(session) -> None:
    admin = roles.get_or_raise(session, reference="admin")
    assert roles.get_by_reference(session, reference=admin.id) is admin
    assert roles.get_by_reference(session, reference=f"/api/v1/roles/{admin.id}") is admin
    with pytest.raises(NotFound):
        roles.get_or_raise(session, reference="wizard")
    assert roles.list_page(session).total == 3


def test_create_and_update_check_permissions(session) -> None:
    role = roles.create(session, name="reader", description="reads", permissions=["task_read"])
    session.commit()
    with pytest.raises(Conflict):
        roles.create(session, name="reader")
    with pytest.raises(InvalidInput) as error:
        roles.create(session, name="typo", permissions=["task_raed"])
    assert "task_raed" in error.value.message
    roles.update(session, role=role, permissions=["task_read", "tag_add"])
    assert role.permissions == ["task_read", "tag_add"]
    roles.update(session, role=role, description="new")
    assert role.permissions == ["task_read", "tag_add"] and role.description == "new"
