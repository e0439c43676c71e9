"""What the user reads when a run ends: the verdict, the endpoint and how to use it, what it costs. Pure.

``RunOutcome`` is read off a finished (or running) PipelineJob by ``vllm_vertex.cloud.jobs``;
this module only turns it into lines and JSON, so that ``submit --wait``, ``follow`` and
``status`` print the same thing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from vllm_vertex import naming, pricing

__all__ = ["CatalogRate", "RunOutcome", "openai_snippet"]


@dataclass(frozen=True)
class CatalogRate:
    """A kept deployment's node price read from the Cloud Billing Catalog API when the run ended, or why not.

    Read by the CLI (``submit --wait``, ``follow``) only when the run keeps a deployment whose
    price the built-in table does not hold; pipeline steps never read it.

    Attributes:
        region: The region priced (the endpoint's).
        usd_per_node_hour: One node hour (machine and GPUs), on-demand list price; None when not read.
        source: ``Cloud Billing Catalog API, services/ID, read YYYY-MM-DD``.
        sku_ids: The SKUs added up (cores, RAM, GPUs).
        problem: Why no price was read, with the fix (one line); empty when read.
    """

    region: str
    usd_per_node_hour: float | None = None
    source: str = ""
    sku_ids: tuple[str, ...] = ()
    problem: str = ""


@dataclass
class RunOutcome:
    """How a run ended (or stands): its state, the smoke-test verdict and figures, what it left.

    Attributes:
        state: ``SUCCEEDED``, ``FAILED``, ``CANCELLED``, ``RUNNING``, ...
        verdict: ``passed``/``failed``, empty when the smoke tests did not run.
        figures: The smoke test's Metrics (latencies, checks, deployed minutes, estimated cost).
        error: The run's error message.
        name: ``projects/P/locations/L/pipelineJobs/ID``.
        endpoint: The endpoint the run created (or checked), empty when none was reached.
        dedicated_dns: The endpoint's dedicated DNS, empty for a shared endpoint.
        report_uri: Where the smoke test wrote its Markdown report.
        teardown_policy: The run's policy; empty for the canary, which creates nothing.
        machine_type: Machine type of one replica.
        replicas: Replicas billed (min_replica_count).
        spot: Deployed on spot VMs.
        live_price: The Cloud Billing Catalog's price of the kept deployment (or why it was not read);
            None when it was not looked up.
        attempts: place-and-deploy's attempts, one dict each (candidate, where, region, outcome, error,
            minutes, cost); empty without placements or when the step did not finish.
        also_in: The other regions the run's placements name (cleanup looks there too).
    """

    state: str
    verdict: str = ""
    figures: dict[str, float] = field(default_factory=dict)
    error: str = ""
    name: str = ""
    endpoint: str = ""
    dedicated_dns: str = ""
    report_uri: str = ""
    teardown_policy: str = ""
    machine_type: str = ""
    replicas: int = 1
    spot: bool = False
    live_price: CatalogRate | None = None
    attempts: list[dict] = field(default_factory=list)
    also_in: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """The run succeeded and the smoke tests passed (the CI gate)."""
        return self.state == "SUCCEEDED" and self.verdict == "passed"

    @property
    def ended(self) -> bool:
        """The run is over."""
        return self.state in ("SUCCEEDED", "FAILED", "CANCELLED")

    @property
    def run_label(self) -> str:
        """The label every resource of the run carries."""
        return naming.run_label_value(self.name) if self.name else ""

    @property
    def kept(self) -> bool:
        """A deployment is left serving (and billing): the policy keeps what this outcome leaves."""
        if not (self.ended and self.endpoint and self.teardown_policy):
            return False
        return not naming.should_clean_up(self.teardown_policy, self.state)

    @property
    def rate(self) -> pricing.Rate | None:
        """The hourly rate of the deployment, when the machine type is known."""
        return pricing.rate_for(self.machine_type, self.replicas, self.spot) if self.machine_type else None

    @property
    def region(self) -> str:
        """The region of the endpoint (else of the run): where the deployment bills."""
        for name in (self.endpoint, self.name):
            parts = name.split("/")
            if len(parts) > 3 and parts[2] == "locations":
                return parts[3]
        return ""

    @property
    def wants_live_price(self) -> bool:
        """A kept on-demand deployment: the live catalogue's price wins over the built-in table's when read."""
        return self.kept and not self.spot and bool(self.region) and self.rate is not None

    @property
    def live_usd_per_hour(self) -> float | None:
        """The catalogue's price of every replica of the kept deployment, per hour."""
        live = self.live_price
        if live is None or live.usd_per_node_hour is None:
            return None
        return round(live.usd_per_node_hour * self.replicas, 6)

    def teardown_command(self) -> str:
        """The command that removes what the run left."""
        parts = self.name.split("/")
        where = f" --project {parts[1]} --region {parts[3]}" if len(parts) > 3 else ""
        also = f" --also-in {','.join(self.also_in)}" if self.also_in else ""
        return f"vllm-vertex teardown --run-label {self.run_label}{where}{also}"

    def lines(self) -> list[str]:
        """The summary printed at the end of ``submit --wait`` and ``follow``, and by ``status``."""
        out = [f"run {self.state}" + (f": {self.error}" if self.error else "")]
        out.append(f"smoke tests: {self.verdict or 'did not run'}")
        out += [f"  {k}: {v:g}" for k, v in sorted(self.figures.items())]
        if "deployed_minutes" in self.figures and "estimated_gpu_cost_usd" not in self.figures and self.rate:
            out.append(f"  estimated GPU cost: unknown (price {self.rate.text()})")
        elif self.rate and self.rate.usd_per_hour is not None and not self.kept:
            out.append(f"price: {self.rate.text()}")
        out += self._placement_lines()
        if self.report_uri:
            out.append(f"report: {self.report_uri} (Markdown; also under smoke-test on the run's console page)")
        if self.endpoint and (self.kept or not self.teardown_policy) and self.state == "SUCCEEDED":
            out += self._use_lines()
        if self.kept:
            out += self._kept_lines()
        elif self.endpoint and self.teardown_policy and self.ended:
            out.append(f"removed: nothing left serving (teardown_policy {self.teardown_policy})")
        return out

    def _placement_lines(self) -> list[str]:
        """Where the deploy landed and every attempt it took (with placements)."""
        if len(self.attempts) < 2:
            return []
        won = next((a for a in self.attempts if a.get("outcome") == "deployed"), None)
        head = f"placement: {won['candidate']}. {won['where']}" if won else "placement: none deployed"
        out = [f"{head} ({len(self.attempts)} attempts)"]
        for a in self.attempts:
            why = f": {a['error']}" if a.get("error") else ""
            out.append(f"  {a['candidate']}. {a['where']}: {a['outcome']} after {float(a['minutes']):.1f} min"
                       f" ({a['cost']}){why}")
        return out

    def _use_lines(self) -> list[str]:
        return [
            f"endpoint: {self.endpoint}",
            f"  console: {naming.console_endpoint_url(self.endpoint)}",
            f"  smoke it again: vllm-vertex smoke {self.endpoint}",
            "  call it with the openai SDK:",
            *("    " + line for line in openai_snippet(self.endpoint, self.dedicated_dns).splitlines()),
        ]

    def _kept_lines(self) -> list[str]:
        rate, live = self.rate, self.live_price
        price = rate.text() if rate else "unknown (machine type not recorded)"
        if live is not None and self.live_usd_per_hour is not None:
            price = pricing.price_text(
                self.live_usd_per_hour, f"live: Vertex AI prediction, on-demand list price in {live.region}; "
                f"{live.source}") + f" for {self.replicas} replica(s) of {self.machine_type}"
        why = (
            "teardown_policy never keeps everything"
            if self.teardown_policy == "never"
            else "teardown_policy on_failure keeps a deployment whose smoke tests passed"
        )
        return [
            f"KEPT (billing until removed): {self.endpoint}, its deployed model and its Model ({why})",
            f"  cost: {price}",
            *([f"  live price not read: {live.problem}"] if live and live.problem else []),
            f"  remove it: {self.teardown_command()}",
        ]

    def to_dict(self) -> dict:
        """JSON-ready: every field, plus ok, kept, run label, hourly price and the commands.

        ``usd_per_hour`` is the built-in table's figure; ``live_price`` the catalogue's, read when
        the run keeps an on-demand deployment (null when not looked up).
        """
        out = asdict(self)
        live = self.live_price
        out["live_price"] = None if live is None else {
            "usd_per_hour": self.live_usd_per_hour,
            "usd_per_node_hour": live.usd_per_node_hour,
            "replicas": self.replicas,
            "region": live.region,
            "source": live.source,
            "sku_ids": list(live.sku_ids),
            "problem": live.problem,
        }
        rate = self.rate
        out.update(
            ok=self.ok,
            kept=self.kept,
            run_label=self.run_label,
            usd_per_hour=rate.usd_per_hour if rate else None,
            console=naming.console_pipeline_run_url(self.name) if self.name else "",
        )
        if self.endpoint:
            out["endpoint_console"] = naming.console_endpoint_url(self.endpoint)
            out["smoke_command"] = f"vllm-vertex smoke {self.endpoint}"
        if self.kept:
            out["teardown_command"] = self.teardown_command()
        return out


def openai_snippet(endpoint: str, dedicated_dns: str = "") -> str:
    """Paste-ready Python that asks the endpoint one chat question with the ``openai`` SDK."""
    region = endpoint.split("/")[3]
    base_url = naming.openai_base_url(endpoint, region, dedicated_dns)
    return "\n".join(
        [
            "import google.auth, google.auth.transport.requests, openai",
            'creds, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])',
            "creds.refresh(google.auth.transport.requests.Request())",
            f'client = openai.OpenAI(base_url="{base_url}", api_key=creds.token)',
            'messages = [{"role": "user", "content": "What is a car?"}]',
            'answer = client.chat.completions.create(model="", messages=messages)',
            "print(answer.choices[0].message.content)",
        ]
    )
