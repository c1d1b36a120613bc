//! The store dashboard on the overview: the chosen period's figures beside the period before
//! it, and the daily volume as a server-rendered SVG chart with an amount axis, day labels, a
//! title per bar and the same numbers as a table. The period is a GET form: it works without
//! JavaScript and every view is a link.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::error_text;
use crate::{
    api::get_dashboard,
    backend::dashboard::{DashboardView, PERIODS},
};

/// The dashboard section of the overview: shown when a store is open.
#[component]
pub fn StoreDashboard() -> impl IntoView {
    let query = use_query_map();
    let days = move || query.get().get("days").and_then(|d| d.parse::<u32>().ok());
    let dashboard = Resource::new(days, get_dashboard);
    view! {
        <Suspense fallback=|| ()>
            {move || {
                dashboard
                    .get()
                    .map(|result| match result {
                        Ok(Some(d)) => dashboard_view(d),
                        Ok(None) => ().into_any(),
                        Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                    })
            }}
        </Suspense>
    }
}

fn dashboard_view(d: DashboardView) -> AnyView {
    let options = PERIODS
        .iter()
        .map(|p| {
            view! { <option value=p.to_string() selected=*p == d.period_days>{format!("Last {p} days")}</option> }
        })
        .collect_view();
    let metrics = d
        .metrics
        .iter()
        .map(|m| {
            let change = m.change.clone().map(|c| {
                let class = if c.starts_with('+') {
                    "change up"
                } else if c.starts_with('−') {
                    "change down"
                } else {
                    "change"
                };
                view! { <span class=class>{c}</span> }
            });
            view! {
                <div class="metric" data-metric=m.key.clone()>
                    <dt>{m.label.clone()}</dt>
                    <dd>
                        <strong data-testid=format!("metric-{}", m.key)>{m.current.clone()}</strong>
                        " " {change}
                        <br/>
                        <span class="muted small" data-testid=format!("metric-{}-previous", m.key)>
                            "before: " {m.previous.clone()}
                        </span>
                    </dd>
                </div>
            }
        })
        .collect_view();
    let statuses = d
        .status_counts
        .iter()
        .map(|(status, n)| {
            view! {
                <a class=format!("status-chip {status}") href=format!("/payments?status={status}")>
                    {status.clone()} " " {*n}
                </a>
            }
        })
        .collect_view();
    let others = d.other_currencies.clone().map(|o| {
        view! { <p class="muted small" data-testid="other-currencies">"Also captured or refunded in other currencies (not in the figures or the chart): " {o}</p> }
    });
    view! {
        <section class="panel" id="dashboard">
            <div class="panel-head">
                <h2>{d.store_name.clone()} ": " {d.period.clone()}</h2>
                <form method="get" action="/" class="inline" id="dashboard-period">
                    <label>"Period " <select name="days">{options}</select></label>
                    " "
                    <button type="submit" class="btn small">"Show"</button>
                </form>
            </div>
            <p class="muted small">
                "Compared with " {d.previous.clone()} " up to the same time of day. In "
                {d.currency.clone()} ", UTC days; refund rate: refunds of the period ÷ its captures."
            </p>
            <dl class="metrics">{metrics}</dl>
            {others}
            <dl class="facts">
                <dt>"Captured"</dt>
                <dd data-testid="captured-total">{d.captured_total.clone()}</dd>
                <dt>"Refunded"</dt>
                <dd data-testid="refunded-total">{d.refunded_total.clone()}</dd>
                <dt>"Payments by status (all time)"</dt>
                <dd>{statuses}</dd>
            </dl>
            {volume_chart(&d)}
        </section>
    }
    .into_any()
}

/// Daily captured and refunded volume as bars, with the amount axis on the left and a few day
/// labels below; an empty period says so instead of drawing nothing.
fn volume_chart(d: &DashboardView) -> AnyView {
    const WIDTH: f64 = 760.0;
    const HEIGHT: f64 = 220.0;
    const LEFT: f64 = 96.0;
    const BOTTOM: f64 = 24.0;
    const TOP: f64 = 8.0;
    let plot_h = HEIGHT - BOTTOM - TOP;
    let plot_w = WIDTH - LEFT - 8.0;
    let top = d.ticks.last().map_or(1, |t| t.value).max(1) as f64;
    let y = move |v: i64| TOP + plot_h - v as f64 / top * plot_h;
    let slot = plot_w / d.days.len().max(1) as f64;
    let bar = (slot / 2.0 - 1.0).max(1.0);
    let empty = d.ticks.is_empty();
    let grid = d
        .ticks
        .iter()
        .map(|t| {
            let at = y(t.value);
            view! {
                <line class="grid" x1=LEFT x2=WIDTH - 8.0 y1=at y2=at></line>
                <text class="tick" x=LEFT - 6.0 y=at + 4.0 text-anchor="end">{t.label.clone()}</text>
            }
        })
        .collect_view();
    // Day labels: the first, the last, and about four between.
    let every = (d.days.len() / 5).max(1);
    let labels = d
        .days
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0 || *i + 1 == d.days.len())
        .map(|(i, day)| {
            let x = LEFT + i as f64 * slot + slot / 2.0;
            view! { <text class="tick" x=x y=HEIGHT - 6.0 text-anchor="middle">{day.day[5..].to_owned()}</text> }
        })
        .collect_view();
    let bars = d
        .days
        .iter()
        .enumerate()
        .map(|(i, day)| {
            let x = LEFT + i as f64 * slot;
            let (yc, yr) = (y(day.captured), y(day.refunded));
            view! {
                <g data-day=day.day.clone()>
                    <title>{day.label.clone()}</title>
                    <rect class="bar-captured" x=x y=yc width=bar height=TOP + plot_h - yc></rect>
                    <rect class="bar-refunded" x=x + bar y=yr width=bar height=TOP + plot_h - yr></rect>
                </g>
            }
        })
        .collect_view();
    let rows = d
        .days
        .iter()
        .filter(|day| day.captured != 0 || day.refunded != 0)
        .map(|day| view! { <li>{day.label.clone()}</li> })
        .collect_view();
    let empty_note = empty.then(|| {
        view! {
            <p class="muted" data-testid="chart-empty">
                "No captures or refunds in this period yet. They appear here once a payment is captured (on an order's page, or through the API)."
            </p>
        }
    });
    view! {
        <figure class="chart">
            <svg
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                role="img"
                aria-label=format!("Captured and refunded volume per day, {}", d.period)
                data-testid="volume-chart"
            >
                {grid}
                <line class="axis" x1=LEFT x2=LEFT y1=TOP y2=TOP + plot_h></line>
                <line class="axis" x1=LEFT x2=WIDTH - 8.0 y1=TOP + plot_h y2=TOP + plot_h></line>
                {bars}
                {labels}
            </svg>
            {empty_note}
            <figcaption class="muted small">
                <span class="legend captured">"captured"</span>
                " "
                <span class="legend refunded">"refunded"</span>
                " per day (UTC), " {d.currency.clone()} ". A day without bars had no captures or refunds; hover a day for its amounts."
            </figcaption>
            <details class="small">
                <summary>"The chart's days as a list"</summary>
                <ul data-testid="chart-days">{rows}</ul>
            </details>
        </figure>
    }
    .into_any()
}
