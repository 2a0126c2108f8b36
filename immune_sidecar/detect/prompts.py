"""The prompts an agent uses: the hashes seen while it was healthy, and its version.

An agent whose captured prompt changes from call to call (each call's retrieved passages
put into its system prompt) brings a new hash in every sample. Its prompt is told by its
parts instead: the sentences nearly every healthy prompt held (its template's) are
steady, and a prompt without one of them is a new prompt."""

from typing import Any

from .settings import BaselineSettings


class PromptBaseline:
    """The prompt hashes an agent used while healthy, how often a healthy sample brought
    one never seen (its novelty), the share of healthy samples that held each part of
    its prompt, and its deployed version."""

    MAX_KNOWN = 16
    NOVELTY_SAMPLES = 50  # novelty is the mean over the samples after the first, up to this
    MAX_PARTS = 128  # the parts with the highest shares are kept
    STEADY = 0.9  # a part held by this share of healthy samples is the template's
    ACCEPTED = 0.5  # the share a part of a prompt accepted as normal starts from

    def __init__(
        self,
        known: dict[str, int] | None = None,
        n: int = 0,
        version: str = "",
        novelty: float = 0.0,
        parts: dict[str, float] | None = None,
        with_parts: int = 0,
        in_version: set[str] | None = None,
        spare: int = 0,
        since_deploy: int = 0,
    ):
        self.known: dict[str, int] = known or {}
        self.n = n
        self.version = version
        self.novelty = novelty
        self.parts: dict[str, float] = parts or {}
        self.with_parts = with_parts  # the healthy samples whose prompt had parts
        self.in_version: set[str] = in_version or set()  # the hashes its version used
        # The new hashes a deployed version may still bring as its own, and its healthy
        # samples with a hash since the deploy.
        self.spare, self.since_deploy = spare, since_deploy

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

    def is_new(
        self, prompt_hash: str, s: BaselineSettings, parts: frozenset[str] = frozenset()
    ) -> bool:
        """Whether a hash never used while healthy is news: the agent's prompt is steady,
        or it varies and ``parts`` lack one of its steady parts."""
        if not self.unseen(prompt_hash, s):
            return False
        return not self.varies(s) or (bool(parts) and bool(self.steady(s) - parts))

    def steady(self, s: BaselineSettings) -> frozenset[str]:
        """The parts nearly every healthy prompt held, once enough prompts had parts."""
        if self.with_parts < s.min_samples:
            return frozenset()
        return frozenset(p for p, share in self.parts.items() if share >= self.STEADY)

    def is_deploy(self, prompt_hash: str, version: str, s: BaselineSettings) -> bool:
        """A hash never seen that came with a new version: a deploy, to be re-learned."""
        return self.unseen(prompt_hash, s) and bool(version) and version != self.version

    def deploy(
        self, prompt_hash: str, version: str, s: BaselineSettings, parts=frozenset()
    ) -> None:
        """Take a new version's first prompt as its own. In its first ``min_samples``
        samples it may bring as many more as the version before it used (one steady
        prompt: none more; a prompt that varies is judged by its parts)."""
        used = 1 if self.varies(s) else len(self.in_version)
        self.spare, self.since_deploy, self.in_version = max(used - 1, 0), 0, set()
        self.accept(prompt_hash, parts)
        self.version = version

    def owns(self, prompt_hash: str, version: str, s: BaselineSettings, parts=frozenset()) -> bool:
        """Whether a new hash is one of the prompts a deployed version may still bring as
        its own (``deploy``); accepted if so."""
        if version != self.version or self.spare <= 0 or self.since_deploy >= s.min_samples:
            return False
        self.spare -= 1
        self.accept(prompt_hash, parts)
        return True

    def learn(
        self, prompt_hash: str, s: BaselineSettings, version: str = "", parts=frozenset()
    ) -> None:
        """Count a hash, and the version and parts it came with, seen in a healthy sample;
        the parts only while the agent's prompt may vary (a steady one is judged by its
        hash: its parts would be memory kept for nothing).

        A sample with no hash (retries alone, say) says nothing of the version's prompt."""
        if not prompt_hash:
            return
        self.version = version or self.version
        if self.known:
            novel = float(prompt_hash not in self.known)
            self.novelty += (novel - self.novelty) / max(1, min(self.n, self.NOVELTY_SAMPLES))
        self.n, self.since_deploy = self.n + 1, self.since_deploy + 1
        self.known[prompt_hash] = self.known.get(prompt_hash, 0) + 1
        self._used(prompt_hash)
        if len(self.known) > self.MAX_KNOWN:
            del self.known[min(self.known, key=self.known.__getitem__)]
        if self.learned(s) and not self.varies(s):
            if self.parts or self.with_parts:
                self.parts, self.with_parts = {}, 0
        elif parts:
            self._learn_parts(parts)

    def _learn_parts(self, parts: frozenset[str]) -> None:
        """Each part's share: the mean of whether a sample held it, over the samples with
        parts, up to the last ``NOVELTY_SAMPLES``."""
        self.with_parts += 1
        rate = 1.0 / min(self.with_parts, self.NOVELTY_SAMPLES)
        for part, share in self.parts.items():
            self.parts[part] = share + (float(part in parts) - share) * rate
        for part in parts - self.parts.keys():
            self.parts[part] = rate
        self._keep_highest()

    def accept(self, prompt_hash: str, parts: frozenset[str] = frozenset()) -> None:
        """Count a prompt as normal (a deploy's; one an operator or a lasting shift
        accepted): its hash is known, the steady parts it lacks are dropped, and its own
        parts start from ``ACCEPTED`` (they become steady as healthy samples hold them)."""
        if prompt_hash:
            self.known.setdefault(prompt_hash, 1)
            self._used(prompt_hash)
        if not parts:
            return
        kept = {p: share for p, share in self.parts.items() if p in parts or share < self.STEADY}
        self.parts = kept | {p: max(kept.get(p, 0.0), self.ACCEPTED) for p in parts}
        self._keep_highest()

    def _used(self, prompt_hash: str) -> None:
        if len(self.in_version) < self.MAX_KNOWN:
            self.in_version.add(prompt_hash)

    def _keep_highest(self) -> None:
        if len(self.parts) > self.MAX_PARTS:
            ranked = sorted(self.parts.items(), key=lambda item: -item[1])
            self.parts = dict(ranked[: self.MAX_PARTS])

    def forget(self, prefix: str) -> None:
        """Drop the hashes that start with ``prefix`` (of a scheme no longer made); with
        none left, the agent's prompts are learned anew."""
        self.known = {h: c for h, c in self.known.items() if not h.startswith(prefix)}
        self.in_version = {h for h in self.in_version if not h.startswith(prefix)}
        if not self.known:
            self.n, self.novelty = 0, 0.0

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the state file."""
        return {
            "known": self.known, "n": self.n, "version": self.version, "novelty": self.novelty,
            "parts": self.parts, "with_parts": self.with_parts,
            "in_version": sorted(self.in_version), "spare": self.spare,
            "since_deploy": self.since_deploy,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "PromptBaseline":
        """Restore from ``to_json`` output (or a state file written before novelty, parts
        or the version's prompts: its next deploy may bring one)."""
        known = {str(k): int(v) for k, v in data["known"].items()}
        novelty = float(data.get("novelty", 0.0))
        parts = {str(k): float(v) for k, v in data.get("parts", {}).items()}
        in_version = set(map(str, data.get("in_version", ())))
        return cls(known, int(data["n"]), str(data.get("version", "")), novelty, parts,
                   int(data.get("with_parts", 0)), in_version, int(data.get("spare", 0)),
                   int(data.get("since_deploy", 0)))  # fmt: skip
