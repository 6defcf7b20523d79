from looprl.env.cells import extract_code_blocks, split_into_turns


def test_extract_blocks_in_order_and_unclosed_tail():
    msg = "think\n```python\na = 1\n```\nmore\n```py\nprint(a)\n```\n```\nb=2\n```\n```python\nc = 3"
    assert extract_code_blocks(msg) == ["a = 1", "print(a)", "b=2", "c = 3"]


def test_no_blocks():
    assert extract_code_blocks("I will just talk.") == []


def test_split_into_turns_keeps_compound_statements_and_comments():
    code = "# log in first\ntoken = login()\n\n# page through\nfor i in range(3):\n    x = i\n    # inner\nprint(x)\n"
    turns = split_into_turns(code)
    assert [t.code for t in turns] == ["token = login()", "for i in range(3):\n    x = i", "print(x)"]
    assert turns[0].thought == "log in first" and turns[1].thought == "page through" and turns[2].thought == "inner"


def test_split_into_turns_parses_under_the_lock(monkeypatch):
    # CPython 3.11's ast.parse raises a SystemError now and then when threads parse at once (seen
    # replaying 32 episodes in threads; too rare to provoke reliably in a test), so parsing holds a lock.
    import ast

    from looprl.env import cells

    seen = []
    real_parse = ast.parse
    monkeypatch.setattr(ast, "parse", lambda *a, **k: seen.append(cells._PARSE_LOCK.locked()) or real_parse(*a, **k))
    assert [t.code for t in split_into_turns("a = 1\nb = 2")] == ["a = 1", "b = 2"]
    assert seen == [True]
