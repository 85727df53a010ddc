using System;

namespace OptGen.Distributed;

/// <summary>
/// The collectives the sharded optimizer needs, over a fixed group of <see cref="Size"/> processes. Every member is
/// a collective: every process of the group calls it, in the same order, with matching arguments. Implemented by
/// <see cref="MpiCommunicator"/> (Open MPI) and <see cref="InProcessGroup"/> (threads of one process, for tests).
/// </summary>
public interface ICommunicator
{
    /// <summary>This process's index in the group, 0 ≤ Rank &lt; Size.</summary>
    int Rank { get; }

    /// <summary>The number of processes in the group.</summary>
    int Size { get; }

    /// <summary>Replaces every element of <paramref name="values"/> with its sum over the group (in place).</summary>
    void AllReduceSum(Span<double> values);

    /// <summary>
    /// Sums <paramref name="send"/> element-wise over the group and gives each process its block: block r is
    /// <paramref name="counts"/>[r] elements, the blocks back to back in rank order; <paramref name="receive"/> gets
    /// this process's block. <paramref name="send"/> holds Σ counts elements.
    /// </summary>
    void ReduceScatterSum(ReadOnlySpan<float> send, Span<float> receive, ReadOnlySpan<int> counts);

    /// <summary>
    /// In place: <paramref name="buffer"/> holds the blocks of <paramref name="counts"/> back to back in rank order;
    /// each process's own block is sent to every other process, which overwrites its copy of that block.
    /// </summary>
    void AllGather(Span<float> buffer, ReadOnlySpan<int> counts);

    /// <summary>
    /// As the float32 overload, for 16-bit elements (float16 or bfloat16 bits, copied exactly): in place, each
    /// process's block of <paramref name="counts"/> sent to every other process.
    /// </summary>
    void AllGather(Span<ushort> buffer, ReadOnlySpan<int> counts);

    /// <summary>
    /// Gathers every process's <paramref name="mine"/> (same length on every process) into <paramref name="all"/>,
    /// rank r's values at [r × mine.Length, (r + 1) × mine.Length), on every process.
    /// </summary>
    void AllGather<T>(ReadOnlySpan<T> mine, Span<T> all)
        where T : unmanaged;

    /// <summary>Returns when every process of the group has called it.</summary>
    void Barrier();
}
