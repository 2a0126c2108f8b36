"""The prompts an agent uses: the hashes seen while it was healthy, and its version."""

from typing import Any

from .settings import BaselineSettings


class PromptBaseline:
    """The prompt hashes an agent used while healthy, how often a healthy sample brought
    one never seen (its novelty), and its deployed version."""

    MAX_KNOWN = 16
    NOVELTY_SAMPLES = 50  # novelty is the mean over the samples after the first, up to this

    def __init__(
        self,
        known: dict[str, int] | None = None,
        n: int = 0,
        version: str = "",
        novelty: float = 0.0,
    ):
        self.known: dict[str, int] = known or {}
        self.n = n
        self.version = version
        self.novelty = novelty

    def usual(self) -> str:
        """The hash seen most often."""
        return max(self.known, key=self.known.__getitem__) if self.known else ""

    def learned(self, s: BaselineSettings) -> bool:
        """Whether enough samples brought a hash for its prompts to be judged."""
        return self.n >= s.min_samples

    def varies(self, s: BaselineSettings) -> bool:
        """Whether the learned agent's hash keeps changing while it is healthy."""
        return self.learned(s) and self.novelty > s.varying_prompt_share

    def unseen(self, prompt_hash: str, s: BaselineSettings) -> bool:
        """Whether a learned agent shows a hash it never used while healthy."""
        return bool(prompt_hash) and self.learned(s) and prompt_hash not in self.known

    def is_new(self, prompt_hash: str, s: BaselineSettings) -> bool:
        """Whether a hash never used while healthy is news: the agent's prompt is steady."""
        return self.unseen(prompt_hash, s) and not self.varies(s)

    def is_deploy(self, prompt_hash: str, version: str, s: BaselineSettings) -> bool:
        """A hash never seen that came with a new version: a deploy, to be re-learned."""
        return self.unseen(prompt_hash, s) and bool(version) and version != self.version

    def learn(self, prompt_hash: str, version: str = "") -> None:
        """Count a hash, and the version it came with, seen in a healthy sample.

        A sample with no hash (retries alone, say) says nothing of the version's prompt."""
        if not prompt_hash:
            return
        self.version = version or self.version
        if self.known:
            novel = float(prompt_hash not in self.known)
            self.novelty += (novel - self.novelty) / max(1, min(self.n, self.NOVELTY_SAMPLES))
        self.n += 1
        self.known[prompt_hash] = self.known.get(prompt_hash, 0) + 1
        if len(self.known) > self.MAX_KNOWN:
            del self.known[min(self.known, key=self.known.__getitem__)]

    def forget(self, prefix: str) -> None:
        """Drop the hashes that start with ``prefix`` (of a scheme no longer made); with
        none left, the agent's prompts are learned anew."""
        self.known = {h: c for h, c in self.known.items() if not h.startswith(prefix)}
        if not self.known:
            self.n, self.novelty = 0, 0.0

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the state file."""
        return {"known": self.known, "n": self.n, "version": self.version, "novelty": self.novelty}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "PromptBaseline":
        """Restore from ``to_json`` output (or a state file written before novelty)."""
        known = {str(k): int(v) for k, v in data["known"].items()}
        novelty = float(data.get("novelty", 0.0))
        return cls(known, int(data["n"]), str(data.get("version", "")), novelty)
