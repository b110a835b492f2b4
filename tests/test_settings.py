"""Settings: every field within its bounds, the precedence of the sources, errors that name the field and
its source, secrets read from the environment and never shown."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from assistant.errors import SettingsError
from assistant.settings import LIBRARY_ENVIRONMENT, Settings, prepare_libraries


@pytest.mark.parametrize("name,value", [
    ("chunk_words", "0"), ("embed_batch_size", "0"), ("min_evidence", "7"), ("min_evidence", "-0.1"),
    ("top_k", "0"), ("candidates", "0"), ("answer_passages", "0"), ("answer_sentences", "0"),
    ("chunk_overlap_sentences", "-1"), ("sparse_weight", "-1"), ("llm_timeout", "0"), ("extract_timeout", "-1"),
    ("smtp_port", "70000"), ("rate_limit", "-1"), ("import_retries", "11"), ("import_window_days", "400"),
    ("import_delay", "61"), ("embed_batch_size", "2.5"), ("chunk_words", "ninety"), ("progress", "maybe"),
    ("encoder_runtime", "cuda"), ("vector_store", "chroma"), ("ocr", "sometimes"),
    ("llm_base_url", "localhost:8080"), ("llm_api_key_env", "MY KEY"), ("milvus_token_env", "A-B"),
    ("smtp_host", "mail example org"), ("default_council", "Example\nCouncil"), ("embedding_model", "a\nb"),
])
def test_a_value_out_of_bounds_names_the_field_and_the_variable(name, value):
    variable = "COUNCIL_ASSISTANT_" + name.upper()
    with pytest.raises(SettingsError) as caught:
        Settings.load(env={variable: value})
    message = str(caught.value)
    assert message.startswith(f"environment variable {variable}: setting {name}=")
    assert message.count(";") == 0


def test_a_value_out_of_bounds_in_the_file_names_the_file(tmp_path):
    file = tmp_path / "council-assistant.toml"
    file.write_text("chunk_words = 0\nmin_evidence = 7\ntop_k = 3\n")
    with pytest.raises(SettingsError) as caught:
        Settings.load(file, env={})
    message = str(caught.value)
    assert f"{file}: setting chunk_words=0: give a value from 10 up to 2000" in message
    assert f"{file}: setting min_evidence=7: give a value from 0 up to 1" in message
    assert "top_k" not in message


def test_an_unknown_key_in_the_file_is_refused_by_name(tmp_path):
    file = tmp_path / "council-assistant.toml"
    file.write_text("chunk_wrods = 80\n")
    with pytest.raises(SettingsError, match=f"unknown setting chunk_wrods \\(in {file}\\)"):
        Settings.load(file, env={})


def test_values_inside_the_bounds_are_converted_from_text():
    settings = Settings.load(env={"COUNCIL_ASSISTANT_CHUNK_WORDS": "120", "COUNCIL_ASSISTANT_MIN_EVIDENCE": "0.4",
                                  "COUNCIL_ASSISTANT_PROGRESS": "off", "COUNCIL_ASSISTANT_INDEX_DIR": "/srv/index",
                                  "COUNCIL_ASSISTANT_LLM_MODEL": "", "COUNCIL_ASSISTANT_EXTRACT_TIMEOUT": "0"})
    assert (settings.chunk_words, settings.min_evidence, settings.progress) == (120, 0.4, False)
    assert settings.index_dir == Path("/srv/index") and settings.llm_model is None and settings.extract_timeout == 0


def test_precedence_caller_over_environment_over_file_over_default(tmp_path):
    file = tmp_path / "settings.toml"
    file.write_text("top_k = 3\ncandidates = 30\nrrf_k = 10\n")
    settings = Settings.load(file, env={"COUNCIL_ASSISTANT_CANDIDATES": "40", "COUNCIL_ASSISTANT_RRF_K": "20"},
                             rrf_k=30)
    assert (settings.top_k, settings.candidates, settings.rrf_k, settings.answer_passages) == (3, 40, 30, 8)


def test_the_settings_file_can_be_named_by_the_environment(tmp_path):
    file = tmp_path / "elsewhere.toml"
    file.write_text("top_k = 4\n")
    assert Settings.load(env={"COUNCIL_ASSISTANT_SETTINGS": str(file)}).top_k == 4
    with pytest.raises(SettingsError, match="missing.toml: settings file not found"):
        Settings.load(tmp_path / "missing.toml", env={})


def test_a_bad_value_from_the_caller_or_a_copy_is_refused_too():
    with pytest.raises(SettingsError, match="^the caller: setting top_k=0: give a value from 1 up to 1000$"):
        Settings.load(env={}, top_k=0)
    settings = Settings.load(env={})
    with pytest.raises(SettingsError, match="^setting answer_sentences=0: "):
        dataclasses.replace(settings, answer_sentences=0)
    with pytest.raises(SettingsError, match="chunk_words"):
        Settings(chunk_words=0)
    assert dataclasses.replace(settings, top_k="7").top_k == 7


def test_every_field_has_a_description_and_every_number_its_bounds():
    for field in dataclasses.fields(Settings):
        assert field.metadata["description"], field.name
        if field.type in ("int", "float", "float | None"):
            bounds = field.metadata["bounds"]
            assert ("ge" in bounds or "gt" in bounds) and "le" in bounds, field.name


def test_secrets_are_read_from_the_variable_a_setting_names(monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", "sk-test-123")
    monkeypatch.delenv("TEST_UNSET_KEY", raising=False)
    settings = Settings.load(env={}, llm_api_key_env="TEST_LLM_KEY", smtp_password_env="TEST_UNSET_KEY")
    assert settings.secret("llm_api_key") == "sk-test-123"
    assert settings.secret("smtp_password") == "" and settings.secret("milvus_token") == ""
    assert "sk-test-123" not in repr(settings)
    with pytest.raises(KeyError):
        settings.secret("ui_password")


def test_passwords_are_in_no_repr_and_no_error():
    settings = Settings.load(env={"COUNCIL_ASSISTANT_UI_PASSWORD": "hunter2-secret",
                                  "COUNCIL_ASSISTANT_UI_USERNAME": "clerk",
                                  "COUNCIL_ASSISTANT_PDF_PASSWORD": "pdf-secret"})
    assert settings.ui_password == "hunter2-secret" and settings.pdf_password == "pdf-secret"
    assert "hunter2" not in repr(settings) and "pdf-secret" not in repr(settings) and "clerk" in repr(settings)
    with pytest.raises(SettingsError) as caught:
        Settings.load(env={"COUNCIL_ASSISTANT_UI_PASSWORD": ["not", "text"]})
    assert "ui_password=(hidden)" in str(caught.value) and "text" not in str(caught.value)


def test_library_variables_are_set_once_and_never_override_the_user(monkeypatch):
    for part in LIBRARY_ENVIRONMENT.values():
        for name in part:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "True")
    prepare_libraries("models", "gradio")
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["GRADIO_ANALYTICS_ENABLED"] == "True"
    assert "OMP_THREAD_LIMIT" not in os.environ
