"""`stax agent`: the operator's outbox commands and start-up errors."""

from edge_agent.config import load_agent_config
from edge_agent.outbox import Outbox, ReleasePolicy
from stax.cli import main

from .conftest import T0, write_agent_config


def queued(config_path, n, policy):
    config = load_agent_config(config_path)
    with Outbox(config.outbox.path) as box:
        for i in range(n):
            msg_id = box.next_msg_id("AUS02")
            box.add(
                file_name=f"AUS02_{msg_id}_PHD_2023_11_20T00_{15 * i:02d}_00.TXT",
                station="AUS02", msg_id=msg_id, data_type="SAMPLEPHD", content=b"plain",
                payload=b"sealed", created=T0, policy=policy,
            )  # fmt: skip
        return config.outbox.path


def test_list_release_and_withhold(tmp_path, pki, capsys):
    config = write_agent_config(tmp_path, pki, "https://127.0.0.1:1")
    path = queued(config, 2, ReleasePolicy("manual"))
    assert main(["agent", "outbox", "list", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "2 held, 0 ready, 0 sent, 0 refused"
    assert "AUS02_2_PHD_2023_11_20T00_15_00.TXT" in out and "by hand" in out

    assert main(["agent", "outbox", "release", "1", "--config", str(config)]) == 0
    assert "released" in capsys.readouterr().out
    assert main(["agent", "outbox", "withhold", "1", "--config", str(config)]) == 0
    assert main(["agent", "outbox", "release", "2", "--config", str(config)]) == 0
    with Outbox(path) as box:
        assert box.get(1).state == "held" and box.get(2).state == "ready"
    capsys.readouterr()

    assert main(["agent", "outbox", "list", "--state", "ready", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "AUS02_2_PHD" in out and "AUS02_1_PHD" not in out


def test_mistakes_are_one_line_and_exit_2(tmp_path, pki, capsys):
    config = write_agent_config(tmp_path, pki, "https://127.0.0.1:1")
    queued(config, 1, ReleasePolicy())
    assert main(["agent", "outbox", "release", "7", "--config", str(config)]) == 2
    assert "stax agent: no file with id 7 in the outbox" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[station]\ncode = 'AUS02'\n")
    assert main(["agent", "run", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stax agent: ") and "bad.toml" in err and "required" in err
    missing = write_agent_config(tmp_path / "elsewhere", pki, "https://127.0.0.1:1")
    assert main(["agent", "outbox", "list", "--config", str(missing)]) == 2
    assert "does not exist (has the agent run" in capsys.readouterr().err
    assert not (tmp_path / "elsewhere" / "outbox.sqlite").exists()
