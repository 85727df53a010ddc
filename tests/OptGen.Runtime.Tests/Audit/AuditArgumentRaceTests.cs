using System;
using System.Buffers;
using System.IO;
using Xunit;

namespace OptGen.Runtime.Tests.Audit;

/// <summary>
/// The per-tensor <c>Step</c> reads the caller's array of buffers; another thread may replace an element of that array
/// while the step runs. A buffer swapped for a shorter one after the argument checks (here from inside the first
/// buffer's <see cref="MemoryManager{T}.Pin"/>, which the step calls after the checks) is refused by name with nothing
/// written: before, the step wrote the layout's length into the shorter buffer, past its end (a neighbouring array's
/// values changed) or read past the end of a shorter gradient.
/// </summary>
public sealed class AuditArgumentRaceTests
{
    private static readonly ParameterLayout Layout = new([8, 5]);

    [Theory]
    [InlineData("parameters")]
    [InlineData("gradients")]
    [InlineData("perExampleSquares")]
    public void ABufferReplacedAfterTheChecksIsRefusedWithNothingWritten(string which)
    {
        var optimizer = new PerExampleSquaresAdam(Layout);
        float[] p0 = [1, 2, 3, 4, 5, 6, 7, 8], p1 = [1, 2, 3, 4, 5];
        float[] g0 = [.1f, .2f, .3f, .4f, .5f, .6f, .7f, .8f], g1 = [.1f, .2f, .3f, .4f, .5f];
        float[] s0 = [.01f, .04f, .09f, .16f, .25f, .36f, .49f, .64f], s1 = [.01f, .04f, .09f, .16f, .25f];
        float[] neighbour = new float[64];
        Array.Fill(neighbour, 1234f);
        Memory<float>[] parameters = [default, p1];
        ReadOnlyMemory<float>[] gradients = [g0, g1];
        ReadOnlyMemory<float>[] squares = [s0, s1];
        using var first = new CallbackMemory(p0, () =>
        {
            // Another thread's write to the caller's arrays, between the step's checks and its pinning.
            switch (which)
            {
                case "parameters": parameters[1] = neighbour.AsMemory(0, 2); break;
                case "gradients": gradients[1] = neighbour.AsMemory(0, 2); break;
                default: squares[1] = neighbour.AsMemory(0, 2); break;
            }
        });
        parameters[0] = first.Memory;
        byte[] before = AuditKinds.Save(optimizer);

        ArgumentException e = Assert.Throws<ArgumentException>(() => optimizer.Step(parameters, gradients, squares));
        Assert.Equal(which, e.ParamName);
        Assert.All(neighbour, v => Assert.Equal(1234f, v));
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], p0);
        Assert.Equal([1, 2, 3, 4, 5], p1);
        Assert.Equal(before, AuditKinds.Save(optimizer));
    }
}
