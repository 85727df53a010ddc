using System;
using System.Threading;

namespace OptGen.Distributed;

/// <summary>
/// A group of <see cref="ICommunicator"/>s inside one process, one per thread: the test double for
/// <see cref="MpiCommunicator"/>. Sums run in rank order, so results are deterministic. Each collective waits at most
/// <see cref="Timeout"/> for the other members and then throws instead of hanging.
/// </summary>
public sealed class InProcessGroup
{
    private readonly Barrier _barrier;
    private readonly object?[] _slots;

    private InProcessGroup(int size)
    {
        _barrier = new Barrier(size);
        _slots = new object?[size];
    }

    /// <summary>How long a collective waits for the other members (default 30 s).</summary>
    public static TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Creates a group of <paramref name="size"/> members; give member r to the thread that plays rank r.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is less than 1.</exception>
    public static ICommunicator[] Create(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        var group = new InProcessGroup(size);
        var members = new ICommunicator[size];
        for (int r = 0; r < size; r++)
        {
            members[r] = new Member(group, r);
        }

        return members;
    }

    private void Wait()
    {
        if (!_barrier.SignalAndWait(Timeout))
        {
            throw new TimeoutException($"An in-process collective waited {Timeout.TotalSeconds} s for the other members of the group.");
        }
    }

    private sealed class Member(InProcessGroup group, int rank) : ICommunicator
    {
        public int Rank => rank;

        public int Size => group._slots.Length;

        public void AllReduceSum(Span<double> values)
        {
            group._slots[rank] = values.ToArray();
            group.Wait();
            for (int i = 0; i < values.Length; i++)
            {
                double sum = 0;
                foreach (object? slot in group._slots)
                {
                    sum += ((double[])slot!)[i];
                }

                values[i] = sum;
            }

            group.Wait();
        }

        public void ReduceScatterSum(ReadOnlySpan<float> send, Span<float> receive, ReadOnlySpan<int> counts)
        {
            int offset = Offset(counts, rank);
            if (receive.Length != counts[rank] || send.Length != Offset(counts, Size))
            {
                throw new ArgumentException("Reduce-scatter buffer lengths do not match the counts.");
            }

            group._slots[rank] = send.ToArray();
            group.Wait();
            for (int i = 0; i < receive.Length; i++)
            {
                float sum = ((float[])group._slots[0]!)[offset + i];
                for (int r = 1; r < Size; r++)
                {
                    sum += ((float[])group._slots[r]!)[offset + i];
                }

                receive[i] = sum;
            }

            group.Wait();
        }

        public void AllGather(Span<float> buffer, ReadOnlySpan<int> counts) => AllGatherBlocks(buffer, counts);

        public void AllGather(Span<ushort> buffer, ReadOnlySpan<int> counts) => AllGatherBlocks(buffer, counts);

        private void AllGatherBlocks<T>(Span<T> buffer, ReadOnlySpan<int> counts)
            where T : unmanaged
        {
            if (buffer.Length != Offset(counts, Size))
            {
                throw new ArgumentException("All-gather buffer length does not match the counts.", nameof(buffer));
            }

            group._slots[rank] = buffer.Slice(Offset(counts, rank), counts[rank]).ToArray();
            group.Wait();
            for (int r = 0; r < Size; r++)
            {
                if (r != rank)
                {
                    ((T[])group._slots[r]!).CopyTo(buffer.Slice(Offset(counts, r), counts[r]));
                }
            }

            group.Wait();
        }

        public void AllGather<T>(ReadOnlySpan<T> mine, Span<T> all)
            where T : unmanaged
        {
            if (all.Length != mine.Length * Size)
            {
                throw new ArgumentException("All-gather output length is not Size × the input length.", nameof(all));
            }

            group._slots[rank] = mine.ToArray();
            group.Wait();
            for (int r = 0; r < Size; r++)
            {
                ((T[])group._slots[r]!).CopyTo(all.Slice(r * mine.Length, mine.Length));
            }

            group.Wait();
        }

        public void Barrier() => group.Wait();

        private static int Offset(ReadOnlySpan<int> counts, int upTo)
        {
            int sum = 0;
            for (int r = 0; r < upTo; r++)
            {
                sum += counts[r];
            }

            return sum;
        }
    }
}
