using System;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;

namespace OptGen.TorchSharp.Tests;

/// <summary>Misuse of the bridge that the layout or a rule refuses: by the parameter's real shape and the hyperparameter's name.</summary>
public sealed class AuditBridgeTests
{
    /// <summary>An empty parameter with a dimension past int: the cast to the layout's int dimensions wrapped it, and the refusal spoke of a negative dimension it does not have.</summary>
    [Theory]
    [InlineData(3_000_000_000L, 0L)]
    [InlineData(0L, 4_294_967_297L)]
    public void AnEmptyParameterWithAHugeDimensionIsRefusedByItsShape(long rows, long columns)
    {
        var parameter = new Parameter(torch.empty([rows, columns]));
        ArgumentException e = Assert.Throws<ArgumentException>(() => FusedOptimizer.Create([("embedding.weight", parameter)], layout => new OptGen.Adam(layout)));
        Assert.Equal("groups", e.ParamName);
        Assert.Contains($"'embedding.weight' has shape [{rows}, {columns}]", e.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A factory that builds the optimizer over a layout of the same lengths but other shapes (a transposed matrix) is
    /// refused: the check compared lengths only, and Adafactor would have factored the weight's rows as its columns.
    /// </summary>
    [Fact]
    public void AFactoryOverTransposedShapesIsRefused()
    {
        var weight = new Parameter(torch.randn(2, 3));
        var bias = new Parameter(torch.randn(3));
        ArgumentException e = Assert.Throws<ArgumentException>(() => FusedOptimizer.Create([weight, bias], _ => new OptGen.Adafactor(OptGen.ParameterLayout.FromShapes([[3, 2], [3]]))));
        Assert.Equal("create", e.ParamName);

        // The same shapes built by the factory itself are taken, a vector as [n] or by length alike.
        using FusedOptimizer<OptGen.Adafactor> same = FusedOptimizer.Create([weight, bias], _ => new OptGen.Adafactor(OptGen.ParameterLayout.FromShapes([[2, 3], [3]])));
        using FusedOptimizer<OptGen.Adam> vector = FusedOptimizer.Create([bias], _ => new OptGen.Adam(3));
    }

    /// <summary>A group's own value out of a rule's limit (Adafactor's c ≤ 0) is refused where the group is made, by name, as a value out of range is; it used to be taken and make every step throw.</summary>
    [Fact]
    public void AGroupValueOutOfTheRulesLimitIsRefusedWhenTheOptimizerIsMade()
    {
        var parameter = new Parameter(torch.randn(4, 3));
        ArgumentOutOfRangeException e = Assert.Throws<ArgumentOutOfRangeException>(() => FusedOptimizer.Create([ParityTests.Group([parameter], ("Beta2Decay", 0.5))], layout => new OptGen.Adafactor(layout)));
        Assert.Equal("Beta2Decay", e.ParamName);

        using FusedOptimizer<OptGen.Adafactor> fused = FusedOptimizer.Create([ParityTests.Group([parameter], ("ClipThreshold", 2.0))], layout => new OptGen.Adafactor(layout));
        Assert.Equal("ClipThreshold", Assert.Throws<ArgumentOutOfRangeException>(() => fused.Groups[0].Options["ClipThreshold"] = 0.5).ParamName);
        Assert.Equal(2.0, fused.Optimizer.ClipThreshold);
    }
}
