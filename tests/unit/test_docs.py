"""The README and the scripts in docs/ say what a new user will meet: the hosts the compose file
really names, every variable a script reads, and scratch files that are the script's own."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import yaml

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
SCRIPTS = sorted((REPO / "docs").glob("*.sh"))
LOCAL = {"127.0.0.1", "localhost", "0.0.0.0"}


def compose_hosts() -> dict[str, str]:
    """URL scheme → the host the compose file's Kvit processes use for it."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    environment = compose["x-kvit"]["environment"]
    hosts = {}
    for name in ("KVIT_DATABASE_URL", "KVIT_SMTP_URL"):
        url = urlsplit(environment[name])
        hosts[url.scheme] = str(url.hostname)
    assert set(hosts.values()) <= set(compose["services"]), hosts
    return hosts


def test_the_readme_uses_the_hosts_compose_names() -> None:
    """`db` and `mail` were nobody's: compose names them `postgres` and `mailpit` (and its
    `mail` service is Kvit's mail worker, no SMTP server)."""
    hosts = compose_hosts()
    found = re.findall(r"\b(postgresql|smtp)://(?:[^@\s/]*@)?([\w.-]+):\d+", README)
    found += [("postgresql", host) for host in re.findall(r"PostgreSQL at ([\w.-]+):\d+", README)]
    remote = [(scheme, host) for scheme, host in found if host not in LOCAL]
    assert remote, "the README names no deployment host at all"
    for scheme, host in remote:
        assert host == hosts[scheme], f"README: {scheme}://{host}, compose: {hosts[scheme]}"


def test_every_variable_a_docs_script_reads_is_named_in_the_readme() -> None:
    read = {
        name for script in SCRIPTS for name in re.findall(r"\$\{(KVIT_\w+):-", script.read_text())
    }
    assert "KVIT_URL" in read
    for name in read:
        assert f"`{name}`" in README, f"the README never names {name}, which a script reads"


def test_scripts_scratch_in_a_fresh_directory_of_their_own() -> None:
    """`docs/notices-flow.sh` deleted and reused `/tmp/kvit-register`: anyone's directory, or
    a symlink an attacker placed there."""
    for script in SCRIPTS:
        text = script.read_text()
        assert not re.search(r"rm -rf\s+/", text), script.name
        assert not re.search(r"=\s*/tmp/", text), script.name
        if "$WORK" in text:
            assert re.search(r'^WORK=\$\(mktemp -d[ )"]', text, re.MULTILINE), script.name
            assert "trap 'rm -rf \"$WORK\"' EXIT" in text, script.name
