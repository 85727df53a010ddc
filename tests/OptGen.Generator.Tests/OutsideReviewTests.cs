using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// Declarations an outside reviewer tried against the generator that gave compiler errors inside generated code or
/// were accepted without a word. Each now gets one OPTG diagnostic at the offending argument or expression part (the
/// expected span is marked <c>[|like this|]</c>), or code that compiles.
/// </summary>
public sealed class OutsideReviewTests
{
    private static Diagnostic AssertMarked(string markedSource, string id) => DiagnosticLocationTests.AssertMarked(markedSource, id);

    // ---- A state named like a Step method's type parameter (CS0412 in generated code) or the GPU kernel's index (CS0100) ----

    [Theory]
    [InlineData("TState")]
    [InlineData("TParameter")]
    [InlineData("TGradient")]
    [InlineData("tstate")]
    public void OPTG0109_StateNamedLikeAStepTypeParameter(string name) =>
        AssertMarked($"[Optimizer] [State(\"[|{name}|]\")] [Update(\"p = p - 0.1 * g\")] public partial class C;", "OPTG0109");

    [Fact]
    public void OPTG0109_StateNamedLikeTheGpuKernelsIndex() =>
        // The ILGPU kernel takes (Index1D index, …, ArrayView<float> m, …): a state 'index' was CS0100 there.
        AssertMarked("[Optimizer] [State(\"[|index|]\")] [Update(\"p = p - 0.1 * g\")] public partial class C;", "OPTG0109");

    [Fact]
    public void OPTG0109_LocalNamedLikeAStepTypeParameter() =>
        AssertMarked("[Optimizer] [Update(\"let [|TState|] = 2 * g\")] [Update(\"p = p - g\")] public partial class C;", "OPTG0109");
}
