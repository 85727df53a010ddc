using OptGen.Samples.Theory;
using ScottPlot;

/// <summary>Renders a <see cref="PlotSpec"/> with ScottPlot.</summary>
internal static class Plots
{
    public static void Save(PlotSpec spec, string path)
    {
        var plot = new Plot();
        plot.Title(spec.Title);
        plot.XLabel(spec.XLabel);
        plot.YLabel(spec.YLabel);
        var palette = new ScottPlot.Palettes.Category10();
        int colorIndex = 0;
        string? lastStem = null;
        foreach (PlotSeries series in spec.Series)
        {
            double[] x = series.X;
            if (series.Style == SeriesStyle.Steps && x.Length > 1)
            {
                // A step plot holds each value from its x to the next: shift bin centers to left edges.
                double half = (x[1] - x[0]) / 2;
                x = System.Array.ConvertAll(x, v => v - half);
            }

            var scatter = plot.Add.Scatter(x, series.Y);
            scatter.LegendText = series.Label;

            // Series that share a stem (e.g. "η = 0.05" measured and predicted) share a color.
            string stem = Stem(series.Label);
            if (lastStem is not null && stem != lastStem)
            {
                colorIndex++;
            }

            lastStem = stem;
            scatter.Color = palette.GetColor(colorIndex);
            switch (series.Style)
            {
                case SeriesStyle.Line:
                    scatter.MarkerSize = 0;
                    scatter.LineWidth = 2;
                    break;
                case SeriesStyle.Dashed:
                    scatter.MarkerSize = 0;
                    scatter.LineWidth = 2;
                    scatter.LinePattern = LinePattern.Dashed;
                    break;
                case SeriesStyle.Markers:
                    scatter.LineWidth = 0;
                    scatter.MarkerSize = 6;
                    break;
                case SeriesStyle.Steps:
                    scatter.MarkerSize = 0;
                    scatter.LineWidth = 1.5f;
                    scatter.ConnectStyle = ConnectStyle.StepHorizontal;
                    scatter.Color = scatter.Color.WithAlpha(0.6);
                    break;
            }
        }

        plot.ShowLegend(System.Enum.Parse<Alignment>(spec.LegendCorner));
        plot.SavePng(path, 1000, 650);
    }

    private static string Stem(string label)
    {
        foreach (string suffix in new[] { " (measured mean)", " (predicted)", " (measured)", " (exact)", " measured", " exact" })
        {
            if (label.EndsWith(suffix, System.StringComparison.Ordinal))
            {
                return label[..^suffix.Length];
            }
        }

        int comma = label.LastIndexOf(", η", System.StringComparison.Ordinal);
        return comma >= 0 ? label[comma..] : label;
    }
}
