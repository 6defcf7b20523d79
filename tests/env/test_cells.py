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
