using System;
using System.Collections.Generic;

namespace OptGen.Runtime.Tests.Conformance;

/// <summary>
/// The fields of SCHEMA.md's "Families with reductions" a case may add, as the runner uses them: <c>tensors</c>
/// (the shapes whose row-major concatenation is the vector of length n) as a <see cref="ParameterLayout"/>, and
/// <c>params_eval_after_each_step</c> (schedule-free's x). <see cref="ConformanceCase.Load"/> reads and checks both.
/// </summary>
/// <param name="Layout">One group of the case's tensors (shaped), or one vector of length n without <c>tensors</c>.</param>
/// <param name="EvalExpected">x after every step, or null.</param>
public sealed record CaseTensors(ParameterLayout Layout, float[][]? EvalExpected)
{
    /// <summary>The layout and eval parameters of a loaded case.</summary>
    public static CaseTensors Read(ConformanceCase c)
    {
        ArgumentNullException.ThrowIfNull(c);
        ParameterLayout layout = c.Tensors is null ? ParameterLayout.Single(c.Length) : ParameterLayout.FromShapes((IReadOnlyList<int[]>)c.Tensors);
        return new CaseTensors(layout, c.ExpectedEval);
    }
}
