"""Marker for the provisioning tests (they run in CI with the rest of the suite)."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "ansible: provisions a debootstrap'd Debian chroot with ansible/site.yml (root, network)",
    )
