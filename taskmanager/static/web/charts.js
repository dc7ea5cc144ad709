// Charts drawn from data the page embeds: <canvas data-chart="ID"> reads the JSON of
// <script type="application/json" id="ID"> ({days, done, left}). Every chart has a table with
// the same numbers beside it, so nothing is lost without JavaScript or without sight.
(() => {
  "use strict";

  const DONE_COLOUR = "#1f7a4d";
  const LEFT_COLOUR = "#2457c5";

  function timelineChart(canvas, data) {
    return new window.Chart(canvas, {
      data: {
        labels: data.days,
        datasets: [
          {
            type: "bar",
            label: "Done that day",
            data: data.done,
            backgroundColor: DONE_COLOUR,
            yAxisID: "done",
          },
          {
            type: "line",
            label: "Left at the end of the day",
            data: data.left,
            borderColor: LEFT_COLOUR,
            backgroundColor: LEFT_COLOUR,
            pointRadius: 0,
            tension: 0,
            yAxisID: "left",
          },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 } },
          done: {
            position: "left",
            beginAtZero: true,
            ticks: { precision: 0 },
            title: { display: true, text: "done" },
          },
          left: {
            position: "right",
            beginAtZero: true,
            ticks: { precision: 0 },
            grid: { drawOnChartArea: false },
            title: { display: true, text: "left" },
          },
        },
      },
    });
  }

  function drawAll() {
    if (typeof window.Chart !== "function") {
      return; // the tables beside the charts carry the numbers
    }
    document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
      const source = document.getElementById(canvas.dataset.chart);
      if (!source) {
        return;
      }
      timelineChart(canvas, JSON.parse(source.textContent));
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
