"""looprl: train LLM agents for long, multi-turn tasks in stateful environments with LOOP
(leave-one-out PPO, Chen et al. 2025, arXiv 2502.01600), and measure what they learned."""

__version__ = "0.1.0"
