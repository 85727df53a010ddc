using System;
using System.IO;
using OptGen.Runtime.Tests.Reductions;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests.Audit;

/// <summary>
/// Tensor shapes whose matrix view (<see cref="ParameterLayout.MatrixShapeOf"/>) has more rows or columns than one
/// buffer holds, though the tensor has no elements: rules keep state per row and column of empty tensors too
/// (DeclaredScopeTests.EmptyRowsColumnsAndTensorsStepAndKeepTheirShape), so such a layout is refused where it is made,
/// not by an <see cref="OverflowException"/> from the allocator when an optimizer is created over it.
/// </summary>
public sealed class EmptyTensorShapeTests
{
    [Theory]
    [InlineData(46341, 0, 46341)] // 46341² columns overflow int (Adafactor threw OverflowException allocating -2147479015 floats)
    [InlineData(2, 0, 1_500_000_000)] // 3·10⁹ columns
    [InlineData(70_000, 40_000, 0)] // 2.8·10⁹ rows
    [InlineData(65536, 65536, 0)]
    public void AnEmptyTensorWhoseRowsOrColumnsOverflowABufferIsRefusedByTheLayout(int a, int b, int c)
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => ParameterLayout.FromShapes([[a, b, c], [4]]));
        Assert.Equal("groups", e.ParamName);
        Assert.Contains($"[{a}, {b}, {c}]", e.Message);
    }

    [Fact]
    public void AnEmptyTensorOfLargeLeadingDimensionsStillSteps()
    {
        // 46340 empty matrices of 0 × 2: 92680 column values, well within one buffer.
        var layout = ParameterLayout.FromShapes([[46340, 0, 2], [3, 4]]);
        foreach (Optimizer optimizer in new Optimizer[] { new Adafactor(layout), new DeclaredFactored(layout) })
        {
            var random = new Random(3);
            float[][] p = Tensors(random, [0, 12]);
            float[][] g = Tensors(random, [0, 12]);
            optimizer.Step(AsMemory(p), AsReadOnly(g));
            Assert.All(p[1], v => Assert.True(float.IsFinite(v)));
            using var stream = new MemoryStream();
            optimizer.SaveCheckpoint(stream);
            ((Optimizer)Activator.CreateInstance(optimizer.GetType(), layout)!).LoadCheckpoint(new MemoryStream(stream.ToArray()));
        }
    }
}
