// The usage chart chunk (loaded only when a box has usage samples to draw): a small uPlot line chart.
// uPlot draws on a canvas and only sets element.style, which the console's CSP allows; its stylesheet
// comes with this chunk as a CSS file.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface ChartOptions {
  /** The series' name in the legend. */
  label: string;
  /** How a value reads on the axis and in the legend. */
  format: (v: number) => string;
  /** How a tick reads on the y axis (default: format). */
  tick?: (v: number) => string;
  stroke: string;
  fill: string;
  /** The y axis shows at least 0..floor. */
  floor: number;
}

export interface UsageChart {
  setData: (xs: number[], ys: (number | null)[]) => void;
  destroy: () => void;
}

const HEIGHT = 160;

export function createChart(el: HTMLElement, opts: ChartOptions): UsageChart {
  const width = () => Math.max(200, Math.floor(el.clientWidth || 300));
  const axis = { stroke: "#5c6677", grid: { stroke: "#e8ebf0", width: 1 }, ticks: { stroke: "#dde1e8", width: 1 } };
  const plot = new uPlot(
    {
      width: width(),
      height: HEIGHT,
      scales: {
        x: { time: true },
        y: { range: (_u, _min, max) => [0, Math.max(opts.floor, (Number.isFinite(max) ? max : 0) * 1.1)] },
      },
      axes: [axis, { ...axis, size: 56, values: (_u, splits) => splits.map((v) => (opts.tick ?? opts.format)(v)) }],
      series: [
        {},
        {
          label: opts.label,
          stroke: opts.stroke,
          fill: opts.fill,
          width: 1.5,
          spanGaps: false,
          points: { show: false },
          value: (_u, v) => (v === null || v === undefined ? "—" : opts.format(v)),
        },
      ],
      cursor: { drag: { x: false, y: false } },
      legend: { show: true },
    },
    [[], []],
    el,
  );
  const resize = new ResizeObserver(() => {
    const w = width();
    if (w !== plot.width) plot.setSize({ width: w, height: HEIGHT });
  });
  resize.observe(el);
  return {
    setData: (xs, ys) => plot.setData([xs, ys]),
    destroy: () => {
      resize.disconnect();
      plot.destroy();
    },
  };
}
