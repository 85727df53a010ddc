using System;
using OptGen.Distributed;

namespace OptGen.Distributed.Tests;

/// <summary>An <see cref="ICommunicator"/> that counts the collectives it passes on (tests that a call makes none, or some).</summary>
internal sealed class CountingCommunicator(ICommunicator inner) : ICommunicator
{
    public int Calls { get; private set; }

    public int Rank => inner.Rank;

    public int Size => inner.Size;

    public void AllReduceSum(Span<double> values)
    {
        Calls++;
        inner.AllReduceSum(values);
    }

    public void ReduceScatterSum(ReadOnlySpan<float> send, Span<float> receive, ReadOnlySpan<int> counts)
    {
        Calls++;
        inner.ReduceScatterSum(send, receive, counts);
    }

    public void AllGather(Span<float> buffer, ReadOnlySpan<int> counts)
    {
        Calls++;
        inner.AllGather(buffer, counts);
    }

    public void AllGather(Span<ushort> buffer, ReadOnlySpan<int> counts)
    {
        Calls++;
        inner.AllGather(buffer, counts);
    }

    public void AllGather<T>(ReadOnlySpan<T> mine, Span<T> all)
        where T : unmanaged
    {
        Calls++;
        inner.AllGather(mine, all);
    }

    public void Barrier()
    {
        Calls++;
        inner.Barrier();
    }
}
