using System;
using System.Buffers;
using System.IO;
using System.Linq;
using OptGen.Distributed;
using Xunit;

namespace OptGen.Distributed.Tests;

/// <summary>
/// The sharded optimizer raced by another call: a buffer of the caller's per-tensor arrays swapped after the checks,
/// and a call on <see cref="ShardedOptimizer{TOptimizer}.Local"/> during <c>LoadCheckpoint</c> (made deterministic from
/// callbacks the load or step makes: a <see cref="MemoryManager{T}.Pin"/>, the optimizer factory).
/// </summary>
public class RaceTests
{
    private static readonly ParameterLayout Layout = new(new[] { 8, 5 });

    private static ShardedOptimizer<Adam> Create(ICommunicator c, Func<ParameterLayout, Adam>? create = null) =>
        new(c, Layout, create ?? (l => new Adam(l) { LearningRate = 0.1 }));

    [Theory]
    [InlineData("parameters")]
    [InlineData("gradients")]
    public void ABufferReplacedAfterTheChecksIsRefusedWithNothingWritten(string which)
    {
        ShardedOptimizer<Adam> sharded = Create(InProcessGroup.Create(1)[0]);
        float[] p0 = [1, 2, 3, 4, 5, 6, 7, 8], p1 = [1, 2, 3, 4, 5];
        float[] g0 = [.1f, .2f, .3f, .4f, .5f, .6f, .7f, .8f], g1 = [.1f, .2f, .3f, .4f, .5f];
        float[] neighbour = new float[64];
        Array.Fill(neighbour, 1234f);
        Memory<float>[] parameters = [default, p1];
        ReadOnlyMemory<float>[] gradients = [g0, g1];
        using var first = new CallbackMemory(p0, () =>
        {
            // Another thread's write to the caller's arrays, between the step's checks and its pinning.
            if (which == "parameters")
            {
                parameters[1] = neighbour.AsMemory(0, 2);
            }
            else
            {
                gradients[1] = neighbour.AsMemory(0, 2);
            }
        });
        parameters[0] = first.Memory;

        ArgumentException e = Assert.Throws<ArgumentException>(() => sharded.Step(parameters, gradients));
        Assert.Equal(which, e.ParamName);
        Assert.All(neighbour, v => Assert.Equal(1234f, v));
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], p0);
        Assert.Equal([1, 2, 3, 4, 5], p1);
        Assert.Equal(0, sharded.Local.StepCount);
    }

    /// <summary>A memory over an array whose <see cref="Pin"/> first runs a callback (once).</summary>
    private sealed class CallbackMemory(float[] array, Action callback) : MemoryManager<float>
    {
        private Action? _callback = callback;

        public override Span<float> GetSpan() => array;

        public override MemoryHandle Pin(int elementIndex = 0)
        {
            Action? run = _callback;
            _callback = null;
            run?.Invoke();
            return array.AsMemory(elementIndex).Pin();
        }

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
