using System;
using System.Collections.Generic;

namespace OptGen.Samples.Theory;

/// <summary>
/// One measured quantity next to what the theory predicts for it.
/// </summary>
/// <param name="Quantity">What was measured, e.g. "Var ĝ, B = 4".</param>
/// <param name="Measured">The Monte Carlo estimate.</param>
/// <param name="StandardError">Its standard error, estimated from the samples themselves.</param>
/// <param name="Predicted">The prediction.</param>
/// <param name="Source">Where the prediction comes from (the formula or the lecture's claim).</param>
/// <param name="Allowance">
/// A known deterministic gap between the prediction and the exact value for this simulation (e.g. the
/// continuous-time limit against the discrete update), 0 when the prediction is exact.
/// </param>
public sealed record Measurement(string Quantity, double Measured, double StandardError, double Predicted, string Source, double Allowance = 0)
{
    /// <summary>(measured − predicted) / standard error.</summary>
    public double ZScore => StandardError > 0 ? (Measured - Predicted) / StandardError : double.NaN;

    /// <summary>Whether |measured − predicted| ≤ k·SE + allowance.</summary>
    public bool Within(double k) => Math.Abs(Measured - Predicted) <= (k * StandardError) + Allowance;
}

/// <summary>How a series is drawn.</summary>
public enum SeriesStyle
{
    /// <summary>A line (a prediction or a curve).</summary>
    Line,

    /// <summary>Markers only (measurements).</summary>
    Markers,

    /// <summary>A dashed line.</summary>
    Dashed,

    /// <summary>A histogram drawn as steps.</summary>
    Steps,
}

/// <summary>One series of a plot.</summary>
public sealed record PlotSeries(string Label, double[] X, double[] Y, SeriesStyle Style);

/// <summary>A plot as data, so the numerics do not depend on a plotting library.</summary>
/// <param name="FileName">The PNG's file name.</param>
/// <param name="Title">Title.</param>
/// <param name="XLabel">x-axis label.</param>
/// <param name="YLabel">y-axis label.</param>
/// <param name="Series">The series.</param>
/// <param name="LegendCorner">Where the legend goes: "UpperRight", "LowerLeft", "MiddleRight", ….</param>
public sealed record PlotSpec(string FileName, string Title, string XLabel, string YLabel, IReadOnlyList<PlotSeries> Series, string LegendCorner = "UpperRight");

/// <summary>What a demo produced.</summary>
/// <param name="Name">The subcommand name.</param>
/// <param name="Claim">The claim from the lecture notes, in one sentence.</param>
/// <param name="Measurements">Measured next to predicted.</param>
/// <param name="Plots">Figures to render.</param>
/// <param name="Notes">Remarks printed after the table (what is tested, which prediction is exact).</param>
public sealed record DemoResult(string Name, string Claim, IReadOnlyList<Measurement> Measurements, IReadOnlyList<PlotSpec> Plots, IReadOnlyList<string> Notes);
