import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { showPlot } from '../src/report/notebook';
import { lossCurveFigure } from '../src/report/plotly';

const library = fs.readFileSync(path.join(__dirname, '..', 'node_modules', 'plotly.js-dist-min', 'plotly.min.js'), 'utf8');

test('showPlot inlines plotly once', () => {
  const outputs: string[] = [];
  const display = { html: (html: string) => outputs.push(html) };
  const figure = lossCurveFigure([{ name: 'train', steps: [1, 2], losses: [2, 1] }]);

  showPlot(figure, { display });
  showPlot(figure, { display });
  showPlot(figure, { display, includeLibrary: true });

  assert.equal(outputs.length, 3);
  assert.ok(outputs[0].includes(library), 'first plot carries plotly.js');
  assert.equal(outputs[1].includes(library), false, 'second plot reuses it');
  assert.ok(outputs[2].includes(library), 'includeLibrary forces it');
  for (const html of outputs) {
    assert.equal(/<script[^>]*\bsrc\s*=/i.test(html), false, 'no <script src=...> element');
    assert.ok(html.includes('window.Plotly.newPlot('));
  }
  const ids = outputs.map((html) => /<div id="([^"]+)"/.exec(html)?.[1]);
  assert.equal(new Set(ids).size, 3, 'each plot gets its own element id');
});

test('showPlot outside tslab explains', () => {
  const figure = lossCurveFigure([{ name: 'train', steps: [1], losses: [2] }]);
  assert.throws(() => showPlot(figure), /only inside a tslab notebook kernel/);
});
