//! What the lab claims, and what became of each claim in this run.
//!
//! Every experiment turns its measurements into [`Claim`]s: an id (the ones
//! `docs/claims.md` explains), one sentence saying what is claimed, the
//! numbers of this run, and a [`Verdict`] computed from those numbers — never
//! written by hand. A claim whose outcome depends on timing says how many
//! attempts it took and whether they agreed ([`Attempts`]).

use std::fmt::Write as _;

use serde::Serialize;

/// What a run showed of a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The numbers of this run show it.
    Reproduced,
    /// The numbers of this run contradict it; `reason` says which.
    NotReproduced,
    /// This run could not measure it; `reason` says why.
    NotMeasured,
}

impl Verdict {
    /// The verdict as a reader says it.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Reproduced => "reproduced",
            Verdict::NotReproduced => "not reproduced",
            Verdict::NotMeasured => "not measured",
        }
    }

    /// `Reproduced` when `held`, else `NotReproduced`.
    pub fn from(held: bool) -> Verdict {
        if held {
            Verdict::Reproduced
        } else {
            Verdict::NotReproduced
        }
    }
}

/// How a timing-dependent claim was decided: attempts are repeated until
/// the first few agree or a fixed budget runs out; then the majority
/// decides and the claim says the budget ran out.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Attempts {
    /// Attempts run.
    pub ran: usize,
    /// Of them, how many showed the claim.
    pub showed: usize,
    /// The most this run would make.
    pub budget: usize,
    /// Whether every attempt agreed (`false`: the budget ran out first and
    /// the majority decided).
    pub unanimous: bool,
}

impl Attempts {
    /// Attempts needed before agreeing ones decide.
    pub const AGREEING: usize = 3;

    /// Whether a run of attempts with these outcomes may stop: there are at
    /// least [`AGREEING`](Self::AGREEING) and all of them agree, or the
    /// budget is spent.
    pub fn settled(outcomes: &[bool], budget: usize) -> bool {
        let agree = outcomes.iter().all(|&o| o == outcomes[0]);
        outcomes.len() >= budget || (outcomes.len() >= Self::AGREEING && agree)
    }

    /// The record of `outcomes` (each: did that attempt show the claim).
    pub fn of(outcomes: &[bool], budget: usize) -> Attempts {
        let showed = outcomes.iter().filter(|&&o| o).count();
        Attempts {
            ran: outcomes.len(),
            showed,
            budget,
            unanimous: showed == 0 || showed == outcomes.len(),
        }
    }

    /// The verdict they give: the majority's.
    pub fn verdict(&self) -> Verdict {
        Verdict::from(self.showed * 2 > self.ran)
    }

    /// "3 of 3 attempts", or the budget running out.
    pub fn describe(&self) -> String {
        if self.unanimous {
            format!("{} of {} attempts agreed", self.ran, self.ran)
        } else {
            format!(
                "attempts disagreed until the budget of {} ran out: {} showed it, {} did not; the majority decided",
                self.budget,
                self.showed,
                self.ran - self.showed
            )
        }
    }
}

/// One claim, judged on this run's numbers.
#[derive(Clone, Debug, Serialize)]
pub struct Claim {
    /// Stable id, explained in docs/claims.md.
    pub id: &'static str,
    /// What is claimed, in one sentence.
    pub statement: String,
    pub verdict: Verdict,
    /// The numbers of this run the verdict comes from.
    pub evidence: String,
    /// Why not reproduced or not measured (empty when reproduced).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// For a timing-dependent claim, how it was decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<Attempts>,
}

impl Claim {
    /// A claim judged by `held` on `evidence`; `reason` is kept only when it
    /// did not hold.
    pub fn judged(
        id: &'static str,
        statement: impl Into<String>,
        held: bool,
        evidence: String,
        reason: impl Into<String>,
    ) -> Claim {
        Claim {
            id,
            statement: statement.into(),
            verdict: Verdict::from(held),
            evidence,
            reason: if held { String::new() } else { reason.into() },
            attempts: None,
        }
    }

    /// A claim this run could not measure, and why.
    pub fn not_measured(id: &'static str, statement: impl Into<String>, why: String) -> Claim {
        Claim {
            id,
            statement: statement.into(),
            verdict: Verdict::NotMeasured,
            evidence: String::new(),
            reason: why,
            attempts: None,
        }
    }

    /// A timing-dependent claim, decided by the majority of its attempts;
    /// `reason` is kept when they did not show it.
    pub fn by_attempts(
        id: &'static str,
        statement: impl Into<String>,
        attempts: Attempts,
        evidence: String,
        reason: impl Into<String>,
    ) -> Claim {
        let held = attempts.verdict() == Verdict::Reproduced;
        Claim {
            attempts: Some(attempts),
            ..Claim::judged(id, statement, held, evidence, reason)
        }
    }

    /// The reason (if any), the evidence and how the attempts went, as one
    /// phrase.
    pub fn detail(&self) -> String {
        let mut detail = [self.reason.as_str(), self.evidence.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        if let Some(a) = &self.attempts {
            let _ = write!(detail, " ({})", a.describe());
        }
        detail
    }

    /// "Verdict: reproduced — evidence (attempts)." for text.
    pub fn verdict_line(&self) -> String {
        let detail = self.detail();
        if detail.is_empty() {
            format!("Verdict: {}.", self.verdict.word())
        } else {
            format!(
                "Verdict: {} — {}.",
                self.verdict.word(),
                detail.trim_start()
            )
        }
    }
}

/// The count of each verdict.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Summary {
    pub reproduced: usize,
    pub not_reproduced: usize,
    pub not_measured: usize,
}

impl Summary {
    pub fn of(claims: &[Claim]) -> Summary {
        let mut s = Summary::default();
        for c in claims {
            match c.verdict {
                Verdict::Reproduced => s.reproduced += 1,
                Verdict::NotReproduced => s.not_reproduced += 1,
                Verdict::NotMeasured => s.not_measured += 1,
            }
        }
        s
    }

    /// "11 of 14 claims reproduced, 1 not reproduced, 2 not measured".
    pub fn line(&self) -> String {
        format!(
            "{} of {} claims reproduced, {} not reproduced, {} not measured",
            self.reproduced,
            self.reproduced + self.not_reproduced + self.not_measured,
            self.not_reproduced,
            self.not_measured
        )
    }
}

/// Claims as a Markdown table, with the summary above it.
pub fn markdown(claims: &[Claim]) -> String {
    let mut out = format!(
        "### Claims ({}; ids in docs/claims.md)\n\n| id | claim | verdict | this run |\n|---|---|---|---|\n",
        Summary::of(claims).line()
    );
    for c in claims {
        let _ = writeln!(
            out,
            "| `{}` | {} | **{}** | {} |",
            c.id,
            c.statement.replace('|', "\\|"),
            c.verdict.word(),
            c.detail().trim_start().replace('|', "\\|")
        );
    }
    out
}

/// Claims as plain text: one verdict line each.
pub fn text(claims: &[Claim]) -> String {
    let mut out = String::new();
    for c in claims {
        let line = c.verdict_line();
        let _ = writeln!(out, "{}: {}", c.id, line.trim_start_matches("Verdict: "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreeing_attempts_settle_after_three_and_disagreeing_ones_run_to_the_budget() {
        assert!(!Attempts::settled(&[true, true], 7));
        assert!(Attempts::settled(&[true, true, true], 7));
        assert!(!Attempts::settled(&[true, false, true], 7));
        assert!(Attempts::settled(
            &[true, false, true, true, false, true, true],
            7
        ));
        let a = Attempts::of(&[true, false, true, true, false, true, true], 7);
        assert_eq!(
            (a.showed, a.unanimous, a.verdict()),
            (5, false, Verdict::Reproduced)
        );
        let b = Attempts::of(&[false, false, false], 7);
        assert_eq!((b.unanimous, b.verdict()), (true, Verdict::NotReproduced));
    }

    #[test]
    fn the_summary_counts_each_verdict() {
        let claims = [
            Claim::judged("a", "x", true, String::new(), ""),
            Claim::judged("b", "y", false, "1".into(), "why"),
            Claim::not_measured("c", "z", "no Go".into()),
        ];
        let s = Summary::of(&claims);
        assert_eq!((s.reproduced, s.not_reproduced, s.not_measured), (1, 1, 1));
        assert_eq!(claims[0].reason, "", "a held claim keeps no reason");
        assert!(claims[1].verdict_line().contains("not reproduced — why; 1"));
    }
}
