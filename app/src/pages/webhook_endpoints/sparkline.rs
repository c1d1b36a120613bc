//! An endpoint's success rate per day as a small inline SVG: one point per day with attempts
//! (the share answered 2xx), lines between consecutive days, and a gap (a grey tick on the
//! baseline) for a day without attempts, where there is no rate to draw.

use leptos::prelude::*;

use crate::backend::webhook_endpoints::DayHealthView;

const WIDTH: f64 = 84.0;
const HEIGHT: f64 = 24.0;
const PAD: f64 = 3.0;

/// `75 %` of a day or a period; `None` without attempts.
pub fn percent(succeeded: i64, attempts: i64) -> Option<String> {
    (attempts > 0).then(|| format!("{:.0} %", succeeded as f64 * 100.0 / attempts as f64))
}

fn describe(d: &DayHealthView) -> String {
    match percent(d.succeeded, d.attempts) {
        None => format!("{}: no attempts", d.day),
        Some(p) => format!(
            "{}: {} of {} attempts succeeded ({p})",
            d.day, d.succeeded, d.attempts
        ),
    }
}

fn x_of(index: usize, days: usize) -> f64 {
    if days <= 1 {
        return WIDTH / 2.0;
    }
    PAD + index as f64 * (WIDTH - 2.0 * PAD) / (days - 1) as f64
}

fn y_of(d: &DayHealthView) -> f64 {
    let ratio = d.succeeded as f64 / d.attempts.max(1) as f64;
    PAD + (1.0 - ratio) * (HEIGHT - 2.0 * PAD)
}

/// The sparkline with its numbers: the chart is an image labelled with every day's figures,
/// and the period's rate is written beside it.
#[component]
pub fn Sparkline(days: Vec<DayHealthView>) -> impl IntoView {
    let count = days.len();
    let attempts: i64 = days.iter().map(|d| d.attempts).sum();
    let succeeded: i64 = days.iter().map(|d| d.succeeded).sum();
    let label = format!(
        "Share of delivery attempts answered 2xx per day (UTC), {}",
        days.iter().map(describe).collect::<Vec<_>>().join("; ")
    );
    let aria = label.clone();
    // Consecutive days with attempts form one line; a day without breaks it.
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut open = false;
    for (i, d) in days.iter().enumerate() {
        if d.attempts == 0 {
            open = false;
            continue;
        }
        let point = (x_of(i, count), y_of(d));
        match runs.last_mut() {
            Some(run) if open => run.push(point),
            _ => runs.push(vec![point]),
        }
        open = true;
    }
    let lines = runs
        .into_iter()
        .filter(|run| run.len() > 1)
        .map(|run| {
            let points = run
                .iter()
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect::<Vec<_>>()
                .join(" ");
            view! { <polyline class="spark-line" points=points></polyline> }
        })
        .collect_view();
    let marks = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let x = x_of(i, count);
            let text = describe(d);
            if d.attempts == 0 {
                view! {
                    <line class="spark-gap" x1=x - 2.0 x2=x + 2.0 y1=HEIGHT - 1.0 y2=HEIGHT - 1.0>
                        <title>{text}</title>
                    </line>
                }
                .into_any()
            } else {
                let class = if d.succeeded == d.attempts {
                    "spark-point ok"
                } else if d.succeeded * 2 >= d.attempts {
                    "spark-point warn"
                } else {
                    "spark-point bad"
                };
                view! {
                    <circle class=class cx=x cy=y_of(d) r="2">
                        <title>{text}</title>
                    </circle>
                }
                .into_any()
            }
        })
        .collect_view();
    let summary = match percent(succeeded, attempts) {
        Some(p) => format!("{p} of {attempts}"),
        None => "no attempts".to_owned(),
    };
    view! {
        <span class="sparkline-cell" data-testid="success-rate">
            <svg
                class="sparkline"
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                role="img"
                aria-label=aria
            >
                <title>{label}</title>
                {lines}
                {marks}
            </svg>
            " "
            <span class="spark-summary">{summary}</span>
        </span>
    }
    .into_any()
}
