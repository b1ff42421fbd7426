"""Config: defaults at the fields, filled by config.resolve alone; flags made from the fields."""

import dataclasses

import pytest
from absl import flags

from experiments import train as train_script
from w2v_jax import config
from w2v_jax import step as step_lib
from w2v_jax.config import Config
from w2v_jax.errors import W2VError

@pytest.mark.parametrize("model", config.MODELS)
@pytest.mark.parametrize("sync", ["step", "dispatch"])
def test_replace_and_construction_give_the_same_config(model, sync):
  replaced = dataclasses.replace(Config(model=model), sync=sync)
  assert replaced == Config(model=model, sync=sync)
  assert config.resolve(replaced) == config.resolve(Config(model=model, sync=sync))


@pytest.mark.parametrize("model, sync, steps, cap", [
    ("sg", "step", 64, 0.0), ("sg", "dispatch", 128, 16.0),
    ("cbow", "step", 64, 0.0), ("cbow", "dispatch", 256, 4.0), ("glove", "step", 64, 0.0),
])
def test_resolve_fills_each_modes_defaults(model, sync, steps, cap):
  cfg = config.resolve(Config(model=model, sync=sync))
  assert (cfg.steps_per_call, cfg.dup_cap) == (steps, cap)
  assert cfg.epochs == (config.GLOVE_EPOCHS if model == "glove" else 5)
  assert cfg.alpha == {"sg": 0.025, "cbow": 0.05, "glove": None}[model]
  assert cfg.lr == Config(model=model).lr == {"sg": 0.025, "cbow": 0.05, "glove": 0.05}[model]
  assert (cfg.devices, cfg.sync) == (1, sync)
  assert config.GLOVE_EPOCHS == 15


def test_resolve_keeps_given_values_is_idempotent_and_returns_a_new_config():
  given = Config(model="cbow", sync="dispatch", steps_per_call=32, dup_cap=0.0, epochs=2,
                 alpha=0.1, devices=3, fusion_barriers=True, lr_progress_scale=1.0)
  assert config.resolve(given, "cpu", 2) == given
  for cfg in (Config(), Config(model="cbow"), Config(model="glove"), given):
    for platform, n in (("cpu", 1), ("cpu", 2), ("gpu", 1)):
      once = config.resolve(cfg, platform, n)
      assert config.resolve(once, platform, n) == once
      assert None not in (once.epochs, once.steps_per_call, once.dup_cap, once.devices, once.sync,
                         once.fusion_barriers, once.lr_progress_scale)
  plain = Config()
  assert config.resolve(plain) is not plain and plain.steps_per_call is None


@pytest.mark.parametrize("cfg, platform, local, want", [
    (Config(), "cpu", 2, (2, "dispatch")),
    (Config(model="cbow"), "cpu", 4, (4, "dispatch")),
    (Config(loss="hs", negatives=0), "cpu", 2, (1, "step")),
    (Config(optimizer="adagrad"), "cpu", 2, (1, "step")),
    (Config(heldout=0.1), "cpu", 2, (1, "step")),
    (Config(model="glove"), "cpu", 2, (1, "step")),
    (Config(), "gpu", 1, (1, "step")),
    (Config(), "gpu", 4, (1, "step")),
    (Config(), "cpu", 1, (1, "step")),
    (Config(devices=1), "cpu", 2, (1, "step")),
    (Config(sync="step"), "cpu", 2, (1, "step")),
    (Config(sync="dispatch"), "cpu", 2, (2, "dispatch")),
    (Config(devices=0), "cpu", 2, (0, "dispatch")),
    (Config(devices=2, row_tokens=128), "gpu", 2, (2, "step")),
    (Config(devices=2, row_tokens=128, shard_tables=True), "cpu", 2, (2, "step")),
])
def test_devices_and_sync_are_picked_for_the_machine(cfg, platform, local, want):
  out = config.resolve(cfg, platform, local)
  assert (out.devices, out.sync) == want
  replica_steps = 128 if cfg.model == "sg" else 256
  assert out.steps_per_call == (replica_steps if want[1] == "dispatch" else 64)


def test_auto_cpu_devices():
  assert config.auto_cpu_devices(Config(), 2) == 2
  assert config.auto_cpu_devices(Config(), 64) == config.MAX_AUTO_REPLICAS == 4
  assert config.auto_cpu_devices(Config(), 1) == 1
  assert config.auto_cpu_devices(Config(devices=3), 2) == 3
  assert config.auto_cpu_devices(Config(devices=0), 2) == 0
  assert config.auto_cpu_devices(Config(loss="hs", negatives=0), 2) == 1
  assert config.auto_cpu_devices(Config(model="glove"), 2) == 1
  assert config.auto_cpu_devices(Config(sync="step"), 2) == 1


def test_validate_accepts_unresolved_configs_and_holds_cross_field_checks():
  assert Config().validate() == Config()
  with pytest.raises(W2VError, match="--epochs must be > 0"):
    Config(epochs=0).validate()
  with pytest.raises(W2VError, match="--steps_per_call must be > 0"):
    Config(steps_per_call=0).validate()
  with pytest.raises(W2VError, match="--sync must be one of step|dispatch"):
    Config(sync="sometimes").validate()
  with pytest.raises(W2VError, match="--model must be one of sg|cbow|glove"):
    config.resolve(Config(model="glove2"))
  with pytest.raises(W2VError, match="--model=glove runs on one device"):
    Config(model="glove", devices=2).validate()
  with pytest.raises(W2VError, match="--sync=dispatch supports --optimizer=sgd"):
    config.resolve(Config(optimizer="adam", sync="dispatch"), "cpu", 2)
  with pytest.raises(W2VError, match="--shard_tables supports --optimizer=sgd or"):
    Config(shard_tables=True, optimizer="adam").validate()
  with pytest.raises(W2VError, match="2 devices need a multiple of 2 rows"):
    Config(devices=2, sync="step").validate()  # 256 / 1024: one row
  # Unresolved, a sync=None run on 2 devices may become replicas: checked once resolved.
  Config(devices=2).validate()
  with pytest.raises(W2VError, match="2 devices need a multiple of 2 rows"):
    config.resolve(Config(devices=2), "gpu", 2)


def test_json_round_trip_and_fingerprint():
  for cfg in (Config(model="cbow"), config.resolve(Config(model="cbow"), "cpu", 2)):
    assert Config.from_json(cfg.to_json()) == cfg
  fingerprint = config.resolve(Config(checkpoint_secs=1.0)).training_fingerprint()
  assert fingerprint == config.resolve(Config()).training_fingerprint()
  assert "checkpoint_secs" not in fingerprint and fingerprint["steps_per_call"] == 64


def _parsed(*argv):
  values = flags.FlagValues()
  train_script.define_config_flags(values)
  values(["train", *argv])
  return values


def test_flags_cover_every_field_with_its_default_and_help():
  values = _parsed()
  for field in dataclasses.fields(Config):
    assert field.name in values, field.name
    assert values[field.name].help.endswith(field.metadata["help"])  # enums: "<a|b>: " first
    if field.name != "corpus":  # the script's default is the bundled sample
      assert values[field.name].value == field.default, field.name
  assert values["corpus"].value.endswith("enwiki2015.part04.txt.gz")
  assert train_script.config_from_flags(values) == Config(corpus=values["corpus"].value)
  for field in dataclasses.fields(Config):  # the script defines them on the global flags
    assert field.name in train_script.FLAGS, field.name


def test_flags_parse_to_the_config_with_todays_spellings():
  values = _parsed("--model=cbow", "--nocbow_mean", "--sync=dispatch", "--loss=ns+hs",
                   "--steps_per_call=8", "--dup_cap=2", "--devices=2", "--alpha=0.1",
                   "--noshrink_window", "--corpus=x.txt")
  cfg = train_script.config_from_flags(values)
  assert cfg == Config(corpus="x.txt", model="cbow", cbow_mean=False, sync="dispatch",
                       loss="ns+hs", steps_per_call=8, dup_cap=2.0, devices=2, alpha=0.1,
                       shrink_window=False)
  assert train_script.config_from_flags(_parsed("--model=glove")).epochs is None
  assert config.resolve(train_script.config_from_flags(_parsed("--model=glove"))).epochs == 15
  with pytest.raises(flags.IllegalFlagValueError):
    _parsed("--model=glove2")


@pytest.mark.parametrize("epochs", [1, 2, 5])
def test_schedule_tuned_ends_cbow_at_alpha_over_2_epochs_and_word2vec_decays_to_zero(epochs):
  tuned = config.resolve(Config(model="cbow", epochs=epochs))
  assert tuned.lr_progress_scale == pytest.approx(1 - 0.5 / epochs)
  final = float(step_lib.word2vec_lr(tuned.lr, 1.0, tuned.min_alpha_ratio, tuned.lr_progress_scale))
  assert final == pytest.approx(tuned.lr / (2 * epochs))
  assert config.resolve(Config(model="sg", epochs=epochs)).lr_progress_scale == 1.0
  for model in ("sg", "cbow"):
    assert config.resolve(Config(model=model, epochs=epochs,
                                 schedule="word2vec")).lr_progress_scale == 1.0
  # An explicit value wins over either schedule, and a replace() gets the same run.
  assert config.resolve(Config(model="cbow", schedule="word2vec",
                               lr_progress_scale=0.7)).lr_progress_scale == 0.7
  assert config.resolve(dataclasses.replace(Config(model="sg"), model="cbow", epochs=epochs)) == (
      config.resolve(Config(model="cbow", epochs=epochs)))


def test_schedule_is_checked():
  with pytest.raises(W2VError, match="schedule"):
    Config(schedule="fast").validate()
