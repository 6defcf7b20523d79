"""Methods beyond LOOP: PPO's critic (detached, GAE, schedule), SFT-GT's chats, every method runs."""

import math
from pathlib import Path

import pytest
import torch

from looprl.config import METHODS, TrainConfig, TrainerConfig, load_config
from looprl.training.batch import make_batch
from looprl.training.methods import METHODS as BUILT, get_method
from looprl.training.methods.ppo import ValueCritic, terminal_rewards, value_coef
from looprl.training.trainer import Trainer
from looprl.training.update import accumulate_gradients, compute_logprobs

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "tiny-cpu.yaml"


def test_every_cli_method_is_built():
    assert set(BUILT) == set(METHODS)
    with pytest.raises(ValueError, match="unknown method 'dpo'"):
        get_method("dpo")


def test_value_coef_decays_log_linearly():
    assert value_coef(1, 0.1, 0.001, 200) == pytest.approx(0.1)
    assert value_coef(101, 0.1, 0.001, 200) == pytest.approx(0.01)
    assert value_coef(201, 0.1, 0.001, 200) == pytest.approx(0.001)
    assert value_coef(500, 0.1, 0.001, 200) == pytest.approx(0.001)


def test_terminal_rewards_on_last_trainable_token():
    mask = torch.tensor([[False, True, True, False], [False, False, False, False], [True, False, True, True]])
    out = terminal_rewards(torch.tensor([0.5, 1.0, 0.25]), mask)
    assert out.tolist() == [[0, 0, 0.5, 0], [0, 0, 0, 0], [0, 0, 0, 0.25]]


def _ppo_batch(policy, make_trajectories):
    trajs = make_trajectories(4, seed=2)
    batch = make_batch(trajs, torch.zeros(4), policy.pad_token_id)
    batch.logp_old = compute_logprobs(policy, batch, 4, 1024)
    return batch


def test_ppo_value_loss_stays_out_of_the_lora(tiny_policy, make_trajectories):
    cfg = TrainConfig(trainer=TrainerConfig(method="ppo", value_hidden_size=16, critic_warmup_iterations=1, micro_batch_size=2))
    critic = ValueCritic(tiny_policy, cfg)
    batch = _ppo_batch(tiny_policy, make_trajectories)
    # warm-up iteration: only the critic learns
    critic.prepare(tiny_policy, batch, cfg.trainer, iteration=1)
    tiny_policy.model.zero_grad(set_to_none=True)
    accumulate_gradients(tiny_policy, get_method("ppo"), batch, cfg.trainer, critic)
    assert all(p.grad is None for p in tiny_policy.trainable_parameters())
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in critic.parameters())
    # after warm-up: the policy loss reaches the LoRA; the critic's gradient is the value loss's alone
    for p in critic.parameters():
        p.grad = None
    metrics = critic.prepare(tiny_policy, batch, cfg.trainer, iteration=2)
    assert metrics["ppo/critic_warmup"] == 0.0 and 0.0 <= metrics["ppo/value_mean"] <= 1.0
    # gamma = lambda = 1 and a terminal reward: every agent token's return is the episode reward, A_t = R - clip(V_t)
    for b in range(len(batch)):
        m = batch.mask[b]
        assert torch.allclose(batch.extras["returns"][b, m], batch.rewards[b].expand(int(m.sum())))
        assert float(batch.extras["advantages_t"][b, m].abs().max()) <= 1.0
    accumulate_gradients(tiny_policy, get_method("ppo"), batch, cfg.trainer, critic)
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in tiny_policy.trainable_parameters())
    tiny_policy.model.zero_grad(set_to_none=True)


def test_sft_gt_chats_train_on_the_solution_tokens(tiny_policy):
    from looprl.testing import DigitsEnv
    from looprl.training.sft_data import ground_truth_trajectories, solution_message

    solution = "# look at the apps\nprint(apis.api_docs.show_app_descriptions())\nfor i in range(2):\n    print(i)\n"
    (traj,) = ground_truth_trajectories(["toy_0"], DigitsEnv, None, tiny_policy.tokenizer, solution_for=lambda t: solution)
    traj.validate()
    tok = tiny_policy.tokenizer
    turns = sorted({t for t, tr in zip(traj.turn_ids, traj.trainable) if tr})
    assert turns == [0, 1]
    for turn, (thought, code) in enumerate([("look at the apps", "print(apis.api_docs.show_app_descriptions())"), ("", "for i in range(2):\n    print(i)")]):
        ids = [i for i, tr, t in zip(traj.token_ids, traj.trainable, traj.turn_ids) if tr and t == turn]
        assert tok.decode(ids) == solution_message(thought, code) + "<|im_end|>"
    assert [m["content"] for m in traj.messages if m["role"] == "user"][1:] == ["Execution successful."]
    assert tok.decode(traj.token_ids).count("<|im_start|>assistant") == 2


def test_with_doc_reads_reads_each_api_once_before_its_first_use():
    from looprl.training.sft_data import api_names_message, doc_message, solution_message, with_doc_reads

    turns = [
        ("", "passwords = apis.supervisor.show_account_passwords()"),
        ("", 'todo_token = apis.todo.login(username="me", password=passwords["todo"])'),
        ("the lists", "lists = collect(apis.todo.show_lists, access_token=todo_token)"),
        ("", "done = apis.todo.show_tasks(list_id=1) + apis.todo.show_lists(page_index=1)"),
        ("", "apis.supervisor.complete_task(answer=len(done))"),
    ]
    plain = [solution_message(t, c) for t, c in turns]
    assert (
        with_doc_reads(turns)
        == plain[:2] + [api_names_message("todo"), doc_message("todo", "show_lists"), plain[2], doc_message("todo", "show_tasks")] + plain[3:]
    )


def test_sft_gt_chats_with_doc_reads_replay_the_ground_truth_in_the_world(tiny_policy):
    from looprl.env.appsuite import AppSuiteEnv
    from looprl.training.sft_data import api_names_message, doc_message, ground_truth_trajectories

    task, tok = "todo_count_open_in_list_1", tiny_policy.tokenizer
    (plain,) = ground_truth_trajectories([task], AppSuiteEnv, None, tok)
    (docs,) = ground_truth_trajectories([task], AppSuiteEnv, None, tok, read_docs=True, max_observation_tokens=40)
    docs.validate()
    said = lambda traj: [m["content"] for m in traj.messages if m["role"] == "assistant"]  # noqa: E731
    reads = [doc_message("todo", "show_lists"), doc_message("todo", "show_tasks")]
    assert [m for m in said(docs) if m not in said(plain)] == [api_names_message("todo")] + reads
    for read in reads:  # the doc is read the turn before the API's first use
        i = said(docs).index(read)
        assert "apis.todo." + read.split('api_name="')[1].split('"')[0] in said(docs)[i + 1]
    # every observation is the world's own, cut as rollouts cut it; the paper's chats say "Execution successful."
    observations = [m["content"] for m in docs.messages if m["role"] == "user"][1:]
    names = observations[said(docs).index(api_names_message("todo"))]
    assert names.startswith("['login', 'logout', 'show_lists', 'create_list'")
    doc_seen = observations[said(docs).index(reads[1])]
    assert doc_seen.startswith("{'app_name': 'todo', 'api_name': 'show_tasks'") and "[output truncated: showing 40 of" in doc_seen
    assert set([m["content"] for m in plain.messages if m["role"] == "user"][1:]) == {"Execution successful."}
    # the agent's tokens are exactly its messages, one trainable turn each
    for turn, text in enumerate(said(docs)):
        ids = [i for i, tr, t in zip(docs.token_ids, docs.trainable, docs.turn_ids) if tr and t == turn]
        assert tok.decode(ids) == text + "<|im_end|>"


def test_sft_gt_with_doc_reads_refuses_a_ground_truth_that_fails(tiny_policy):
    from looprl.env.appsuite import AppSuiteEnv
    from looprl.training.sft_data import ground_truth_trajectories

    wrong = "apis.supervisor.complete_task(answer=-1)\n"
    with pytest.raises(ValueError, match="todo_count_open_in_list_1.*did not solve it"):
        ground_truth_trajectories(["todo_count_open_in_list_1"], AppSuiteEnv, None, tiny_policy.tokenizer, solution_for=lambda t: wrong, read_docs=True)


def test_sft_gt_in_the_trainer_reads_the_docs_when_asked(tiny_model_dir, tmp_path):
    cfg = load_config(
        TrainConfig,
        RECIPE,
        [
            f"model.name_or_path={tiny_model_dir}",
            f"run_dir={tmp_path}",
            "logging.tensorboard=false",
            "env.name=appsuite",
            "env.options={}",
            "env.max_observation_tokens=64",
            "rollout.scaffold=terse",
            "rollout.sampling.max_context_tokens=4096",
            "trainer.method=sft-gt",
            "trainer.sft_read_docs=true",
            "trainer.eval_every=0",
            "trainer.iterations=1",
            "trainer.tasks_per_iteration=1",
            "tasks.task_ids=[todo_count_open_in_list_1]",
        ],
    )
    Trainer(cfg, progress=False).train()
    from looprl.trajectory import read_jsonl

    (chat,) = read_jsonl(tmp_path / "fixed_data.jsonl")
    said = [m["content"] for m in chat.messages if m["role"] == "assistant"]
    assert sum("show_api_doc(" in m for m in said) == 2
    assert any("[output truncated: showing 64 of" in m["content"] for m in chat.messages if m["role"] == "user")


@pytest.mark.parametrize("method", ["loop-rwnorm", "grpo-kl", "rloo", "ppo", "ei", "rft"])
def test_method_runs_in_the_trainer(method, tiny_model_dir, tmp_path):
    cfg = load_config(
        TrainConfig,
        RECIPE,
        [
            f"model.name_or_path={tiny_model_dir}",
            f"run_dir={tmp_path}",
            "logging.tensorboard=false",
            "trainer.eval_every=0",
            "trainer.iterations=2",
            "trainer.tasks_per_iteration=2",
            f"trainer.method={method}",
        ]
        + (["trainer.critic_warmup_iterations=1", "trainer.value_hidden_size=16"] if method == "ppo" else []),
    )
    trainer = Trainer(cfg, progress=False)
    before = [p.detach().clone() for p in trainer.optimizer.param_groups[0]["params"]]
    history = trainer.train()
    assert [h["iteration"] for h in history] == [1, 2]
    assert all(math.isfinite(h.get("loss/policy", 0.0)) for h in history)
    if method == "rft":  # base-model rollouts over the temperature sweep, kept for a resume
        from looprl.trajectory import read_jsonl

        data = list(read_jsonl(tmp_path / "fixed_data.jsonl"))
        assert len(data) == 3 * cfg.trainer.rollouts_per_task * 8  # 3 temperatures x K x the toy recipe's 8 tasks
    if method in ("ei", "rft"):  # nothing may succeed at the start; steps only when a rollout did
        return
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.optimizer.param_groups[0]["params"]))
    if method == "ppo":  # the critic is checkpointed and restored
        resumed = Trainer(cfg, resume=True, progress=False)
        for a, b in zip(trainer.critic.parameters(), resumed.critic.parameters()):
            assert torch.equal(a, b)


def test_sft_gt_on_the_built_in_world(tiny_model_dir, tmp_path):
    from looprl.world import load_tasks

    task = next(t for t in load_tasks("train") if t.difficulty == 1)
    cfg = load_config(
        TrainConfig,
        None,
        [
            f"model.name_or_path={tiny_model_dir}",
            f"run_dir={tmp_path}",
            "logging.tensorboard=false",
            "trainer.eval_every=0",
            "trainer.iterations=1",
            "trainer.tasks_per_iteration=1",
            "trainer.method=sft-gt",
            "lora.r=4",
            f"tasks.task_ids=[{task.id}]",
        ],
    )
    trainer = Trainer(cfg, progress=False)
    history = trainer.train()
    assert history[-1]["train/optimizer_steps"] == 2.0 and history[-1]["loss/policy"] > 0  # 2 epochs x 1 minibatch
    (chat,) = trainer.fixed_data
    text = trainer.policy.tokenizer.decode([i for i, tr in zip(chat.token_ids, chat.trainable) if tr])
    assert "apis.supervisor.complete_task" in text and task.instruction in chat.messages[-2]["content"]
