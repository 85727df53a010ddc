using System;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace OptGen.Runtime.Tests.Conformance;

/// <summary>
/// The fields of SCHEMA.md's "Families with reductions" a case may add: <c>tensors</c> (the shapes whose
/// row-major concatenation is the vector of length n) and <c>params_eval_after_each_step</c> (schedule-free's x).
/// </summary>
/// <param name="Layout">One group of the case's tensors (shaped), or one vector of length n without <c>tensors</c>.</param>
/// <param name="EvalExpected">x after every step, or null.</param>
public sealed record CaseTensors(ParameterLayout Layout, float[][]? EvalExpected)
{
    /// <summary>Reads the fields from the case's file.</summary>
    /// <exception cref="InvalidDataException">The shapes do not multiply out to n, or the eval list has the wrong shape.</exception>
    public static CaseTensors Read(ConformanceCase c)
    {
        ArgumentNullException.ThrowIfNull(c);
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(c.Path));
        JsonElement root = document.RootElement;
        ParameterLayout layout = ParameterLayout.Single(c.Length);
        if (root.TryGetProperty("tensors", out JsonElement tensors) && tensors.ValueKind != JsonValueKind.Null)
        {
            int[][] shapes = tensors.EnumerateArray().Select(s => s.EnumerateArray().Select(d => d.GetInt32()).ToArray()).ToArray();
            layout = ParameterLayout.FromShapes(shapes);
            if (layout.TotalLength != c.Length)
            {
                throw new InvalidDataException($"{c.Path}: the tensors [{string.Join(", ", shapes.Select(s => $"[{string.Join(", ", s)}]"))}] hold {layout.TotalLength} elements, not n = {c.Length}.");
            }
        }

        float[][]? eval = null;
        if (root.TryGetProperty("params_eval_after_each_step", out JsonElement e) && e.ValueKind != JsonValueKind.Null)
        {
            eval = e.EnumerateArray().Select(step => step.EnumerateArray().Select(x => x.GetSingle()).ToArray()).ToArray();
            if (eval.Length != c.Steps || eval.Any(x => x.Length != c.Length))
            {
                throw new InvalidDataException($"{c.Path}: params_eval_after_each_step is not T = {c.Steps} lists of n = {c.Length} floats.");
            }
        }

        return new CaseTensors(layout, eval);
    }
}
