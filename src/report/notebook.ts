import { randomBytes } from 'node:crypto';
import { PLOTLY_CONFIG, type PlotlyFigure, plotlySource, scriptJson } from './plotly';

/** The part of tslab's display API that showPlot uses. */
export interface HtmlDisplay {
  html(html: string): void;
}

export interface ShowPlotOptions {
  /** Plot height in CSS pixels. */
  height?: number;
  /**
   * Whether to embed plotly.js (about 4.8 MB) in this output even if an earlier output of the kernel did.
   * This is needed after the output that carried it was cleared and the page reloaded.
   */
  includeLibrary?: boolean;
  /** Output target for the HTML, tslab's display when omitted. */
  display?: HtmlDisplay;
}

/**
 * Whether this kernel already sent plotly.js to the notebook. A tslab kernel serves one notebook,
 * so module state is per notebook, and a kernel restart resets it along with the outputs.
 */
let libraryEmitted = false;

/**
 * Renders the HTML output for one plot: a div and a script that draws the figure into it.
 * With includeLibrary, plotly.js goes inline in front of them, so the saved notebook needs no CDN.
 */
export function plotOutputHtml(figure: PlotlyFigure, options: { height?: number; includeLibrary: boolean }): string {
  const height = options.height ?? 480;
  const id = `lora-lab-plot-${randomBytes(6).toString('hex')}`;
  const parts: string[] = [];
  if (options.includeLibrary) parts.push(`<script>${plotlySource()}</script>`);
  parts.push(`<div id="${id}" style="width:100%;height:${height}px"></div>`);
  parts.push(
    '<script>',
    '(function () {',
    `  var element = document.getElementById(${JSON.stringify(id)});`,
    '  if (typeof window.Plotly === "undefined") {',
    '    element.textContent = "plotly.js is not loaded in this page. Rerun the notebook from the top, or call showPlot with includeLibrary: true.";',
    '    return;',
    '  }',
    `  window.Plotly.newPlot(element, ${scriptJson(figure.data)}, ${scriptJson(figure.layout)}, ${scriptJson(PLOTLY_CONFIG)});`,
    '})();',
    '</script>',
  );
  return parts.join('\n');
}

/**
 * Shows a plotly figure as the output of the current tslab notebook cell.
 * The first plot of a kernel carries plotly.js inline and later plots reuse it,
 * so an executed notebook shows its charts offline. Browsers run these scripts
 * only in a trusted notebook (Jupyter marks notebooks executed elsewhere as untrusted).
 */
export function showPlot(figure: PlotlyFigure, options: ShowPlotOptions = {}): void {
  const display = options.display ?? tslabDisplay();
  const includeLibrary = options.includeLibrary === true || !libraryEmitted;
  display.html(plotOutputHtml(figure, { height: options.height, includeLibrary }));
  if (includeLibrary) libraryEmitted = true;
}

function tslabDisplay(): HtmlDisplay {
  // Loaded on demand: outside a notebook the module is not needed, and loading it pulls in tslab's TypeScript.
  const tslab = require('tslab') as { display: HtmlDisplay };
  return {
    html(html: string) {
      try {
        tslab.display.html(html);
      } catch (error) {
        throw new Error(
          `showPlot works only inside a tslab notebook kernel (${(error as Error).message}). ` +
            'Outside a notebook, write the figure with writePlotlyHtml instead.',
        );
      }
    },
  };
}
