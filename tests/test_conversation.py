from __future__ import annotations

import pytest

from assistant.conversation import Turn, is_followup, resolve_followup, turns
from assistant.types import Query


def test_history_formats_all_read_as_turns():
    pairs = [("Who is the DCS?", "Martin Birch [1]"), ["Since when?", "April 2022 [1]"]]
    messages = [{"role": "user", "content": "Who is the DCS?"},
                {"role": "assistant", "content": [{"type": "text", "text": "Martin Birch [1]"}]},
                {"role": "user", "content": "Since when?"},
                {"role": "assistant", "content": "April 2022 [1]"}]
    expected = [Turn("Who is the DCS?", "Martin Birch [1]"), Turn("Since when?", "April 2022 [1]")]
    assert turns(pairs) == expected
    assert turns(messages) == expected
    assert turns(expected) == expected
    assert turns(None) == [] and turns([]) == []


@pytest.mark.parametrize("message,expected", [
    ("and when did she start?", True),
    ("What about fostering?", True),
    ("Was that before the inspection?", True),
    ("fostering?", True),
    ("How much did the council invest in children's social care in 2021/22?", False),
    ("Which adviser did the Department for Education appoint to the board?", False),
])
def test_followups_are_recognised(message, expected):
    assert is_followup(message) is expected


def test_followup_takes_the_previous_question_and_the_names_in_its_answer():
    history = [("Who is the new permanent director?",
                "Martin Birch who was appointed permanently will commence in April 2022 [1]")]
    query = resolve_followup(history, "and when did he start?")
    assert query.text == "and when did he start?"
    assert "new permanent director" in query.context and "Martin Birch" in query.context
    assert "[1]" not in query.context and "about:" not in query.searched


def test_standalone_questions_and_first_questions_are_searched_as_they_are():
    history = [("Who is the new permanent director?", "Martin Birch [1]")]
    standalone = "How much did the council invest in children's social care in 2021/22?"
    assert resolve_followup(history, standalone) == Query(standalone)
    assert resolve_followup([], "and when did he start?") == Query("and when did he start?")


def test_the_context_of_a_followup_is_searched_but_not_asked():
    """The answerer reads what the follow-up asks (a date) from its own words alone: the earlier
    question's "who" and names are context, not a second thing asked or a focus to be matched."""
    from assistant.answering import analyse, question_parts, unmatched_names

    history = [("Who is the new permanent director?", "Martin Birch was appointed [1]")]
    query = resolve_followup(history, "and when did he start?")
    question = analyse(query)
    assert question.kinds == ("date",) and question.focus == ()
    assert "birch" in question.context_words and "birch" not in question.words
    assert all("Birch" not in part for part in question_parts(query)) and unmatched_names(query, []) == ()
    assert query.searched.startswith("and when did he start? ") and "Martin Birch" in query.searched
