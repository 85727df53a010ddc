using System;
using System.Runtime.InteropServices;

namespace OptGen.Distributed;

/// <summary>
/// <see cref="ICommunicator"/> over Open MPI's <c>MPI_COMM_WORLD</c>: the C API of <c>libmpi.so.40</c> bound through
/// function pointers (<see cref="NativeLibrary.GetExport"/>), with Open MPI's predefined handles taken as the
/// addresses of its exported globals (<c>ompi_mpi_comm_world</c>, <c>ompi_mpi_float</c>, <c>ompi_mpi_op_sum</c>, …),
/// so no C shim is built. Run the program under <c>mpirun</c>; see docs/distributed.md.
/// </summary>
/// <remarks>
/// <para>One per process: <see cref="Initialize"/> calls <c>MPI_Init</c> (once), <see cref="Dispose"/> calls
/// <c>MPI_Finalize</c>. MPI's default error handler (<c>MPI_ERRORS_ARE_FATAL</c>) stays in place: a failed
/// collective, or a process that dies mid-job, makes <c>mpirun</c> abort every process of the job, and an unhandled
/// .NET exception on any rank calls <c>MPI_Abort</c> (an <see cref="AppDomain.UnhandledException"/> handler), which ends
/// every process of the job.</para>
/// <para>Collectives are not thread-safe (MPI is initialized with <c>MPI_THREAD_SINGLE</c> semantics): call them
/// from one thread.</para>
/// </remarks>
public sealed unsafe class MpiCommunicator : ICommunicator, IDisposable
{
    private const string LibraryName = "libmpi.so.40";
    private const int RtldNow = 0x2;
    private const int RtldGlobal = 0x100;

    private static MpiCommunicator? s_instance;

    private readonly Api _api;
    private readonly int[] _displacements;
    private bool _disposed;

    private MpiCommunicator(Api api)
    {
        _api = api;
        int value;
        Check(_api.CommRank(_api.CommWorld, &value), "MPI_Comm_rank");
        Rank = value;
        Check(_api.CommSize(_api.CommWorld, &value), "MPI_Comm_size");
        Size = value;
        _displacements = new int[Size];
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <summary>
    /// Loads Open MPI, calls <c>MPI_Init</c> and returns the process's communicator over <c>MPI_COMM_WORLD</c>.
    /// A second call returns the same instance (until it is disposed).
    /// </summary>
    /// <exception cref="DllNotFoundException">libmpi.so.40 is not installed (Debian: <c>apt-get install openmpi-bin libopenmpi-dev</c>).</exception>
    /// <exception cref="InvalidOperationException">MPI was finalized already, or <c>MPI_Init</c> failed.</exception>
    public static MpiCommunicator Initialize()
    {
        if (s_instance is { _disposed: false } existing)
        {
            return existing;
        }

        var api = new Api(Load());
        int flag;
        Check(api.Finalized(&flag), "MPI_Finalized");
        if (flag != 0)
        {
            throw new InvalidOperationException("MPI has been finalized in this process; it cannot be initialized again.");
        }

        Check(api.Initialized(&flag), "MPI_Initialized");
        if (flag == 0)
        {
            Check(api.Init(null, null), "MPI_Init");
        }

        s_instance = new MpiCommunicator(api);

        // An unhandled exception on one rank must end the job: left alone, the failing .NET process was seen not to
        // exit (Open MPI 4.1, Debian 12) while the other ranks spun in their next collective.
        AppDomain.CurrentDomain.UnhandledException += AbortOnUnhandledException;
        return s_instance;
    }

    /// <inheritdoc/>
    public void AllReduceSum(Span<double> values)
    {
        ThrowIfDisposed();
        fixed (double* v = values)
        {
            Check(_api.Allreduce(InPlace, v, values.Length, _api.Double, _api.Sum, _api.CommWorld), "MPI_Allreduce");
        }
    }

    /// <inheritdoc/>
    public void ReduceScatterSum(ReadOnlySpan<float> send, Span<float> receive, ReadOnlySpan<int> counts)
    {
        ThrowIfDisposed();
        long total = CheckCounts(counts);
        if (send.Length != total || receive.Length != counts[Rank])
        {
            throw new ArgumentException($"Reduce-scatter needs {total} elements to send and {counts[Rank]} to receive; got {send.Length} and {receive.Length}.");
        }

        fixed (float* s = send)
        fixed (float* r = receive)
        fixed (int* c = counts)
        {
            Check(_api.ReduceScatter(s, r, c, _api.Float, _api.Sum, _api.CommWorld), "MPI_Reduce_scatter");
        }
    }

    /// <inheritdoc/>
    public void AllGather(Span<float> buffer, ReadOnlySpan<int> counts) => AllGatherBlocks(buffer, counts, _api.Float);

    /// <inheritdoc/>
    public void AllGather(Span<ushort> buffer, ReadOnlySpan<int> counts) => AllGatherBlocks(buffer, counts, _api.UInt16);

    /// <summary>MPI_Allgatherv in place of <paramref name="buffer"/>'s blocks, elements of MPI type <paramref name="datatype"/>.</summary>
    private void AllGatherBlocks<T>(Span<T> buffer, ReadOnlySpan<int> counts, nint datatype)
        where T : unmanaged
    {
        ThrowIfDisposed();
        long total = CheckCounts(counts);
        if (buffer.Length != total)
        {
            throw new ArgumentException($"All-gather needs a buffer of {total} elements; got {buffer.Length}.", nameof(buffer));
        }

        int offset = 0;
        for (int r = 0; r < Size; r++)
        {
            _displacements[r] = offset;
            offset += counts[r];
        }

        fixed (T* b = buffer)
        fixed (int* c = counts)
        fixed (int* d = _displacements)
        {
            Check(_api.Allgatherv(InPlace, 0, datatype, b, c, d, datatype, _api.CommWorld), "MPI_Allgatherv");
        }
    }

    /// <inheritdoc/>
    public void AllGather<T>(ReadOnlySpan<T> mine, Span<T> all)
        where T : unmanaged
    {
        ThrowIfDisposed();
        if (all.Length != (long)mine.Length * Size)
        {
            throw new ArgumentException($"All-gather of {mine.Length} values from {Size} processes needs {(long)mine.Length * Size}; got {all.Length}.", nameof(all));
        }

        int bytes = checked(mine.Length * sizeof(T));
        fixed (T* m = mine)
        fixed (T* a = all)
        {
            Check(_api.Allgather(m, bytes, _api.Byte, a, bytes, _api.Byte, _api.CommWorld), "MPI_Allgather");
        }
    }

    /// <inheritdoc/>
    public void Barrier()
    {
        ThrowIfDisposed();
        Check(_api.Barrier(_api.CommWorld), "MPI_Barrier");
    }

    /// <summary>Ends every process of the job with <paramref name="errorCode"/> (<c>MPI_Abort</c>); does not return normally.</summary>
    public void Abort(int errorCode)
    {
        ThrowIfDisposed();
        _ = _api.Abort(_api.CommWorld, errorCode);
    }

    /// <summary>Calls <c>MPI_Finalize</c> (a collective: every process must dispose its communicator).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Check(_api.Finalize(), "MPI_Finalize");
    }

    private static void AbortOnUnhandledException(object sender, UnhandledExceptionEventArgs e)
    {
        if (s_instance is { _disposed: false } communicator)
        {
            Console.Error.WriteLine($"Rank {communicator.Rank}: unhandled exception; aborting the MPI job (MPI_Abort).{Environment.NewLine}{e.ExceptionObject}");
            Console.Error.Flush();
            communicator.Abort(1);
        }
    }

    private static void* InPlace => (void*)1; // MPI_IN_PLACE in Open MPI's mpi.h

    private static nint Load()
    {
        // Open MPI's plugins (MCA components) resolve symbols of libmpi when they are loaded, so the library goes
        // into the global namespace first, as mpi4py does; NativeLibrary.Load alone opens it RTLD_LOCAL.
        _ = DlOpen(LibraryName, RtldNow | RtldGlobal);
        return NativeLibrary.Load(LibraryName);
    }

    [DllImport("libc.so.6", EntryPoint = "dlopen")]
    private static extern nint DlOpen([MarshalAs(UnmanagedType.LPUTF8Str)] string file, int mode);

    private static void Check(int code, string function)
    {
        if (code != 0)
        {
            throw new InvalidOperationException($"{function} failed with MPI error code {code}.");
        }
    }

    private long CheckCounts(ReadOnlySpan<int> counts)
    {
        if (counts.Length != Size)
        {
            throw new ArgumentException($"Expected one count per process ({Size}); got {counts.Length}.", nameof(counts));
        }

        long total = 0;
        foreach (int c in counts)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(c, nameof(counts));
            total += c;
        }

        return total;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>The bound functions and predefined handles of one loaded libmpi.</summary>
    private sealed class Api
    {
        public readonly delegate* unmanaged<int*, byte***, int> Init;
        public readonly delegate* unmanaged<int*, int> Initialized;
        public readonly delegate* unmanaged<int*, int> Finalized;
        public readonly delegate* unmanaged<int> Finalize;
        public readonly delegate* unmanaged<nint, int*, int> CommRank;
        public readonly delegate* unmanaged<nint, int*, int> CommSize;
        public readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce;
        public readonly delegate* unmanaged<void*, void*, int*, nint, nint, nint, int> ReduceScatter;
        public readonly delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Allgather;
        public readonly delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int> Allgatherv;
        public readonly delegate* unmanaged<nint, int> Barrier;
        public readonly delegate* unmanaged<nint, int, int> Abort;
        public readonly nint CommWorld;
        public readonly nint Float;
        public readonly nint Double;
        public readonly nint Byte;
        public readonly nint UInt16;
        public readonly nint Sum;

        public Api(nint library)
        {
            Init = (delegate* unmanaged<int*, byte***, int>)NativeLibrary.GetExport(library, "MPI_Init");
            Initialized = (delegate* unmanaged<int*, int>)NativeLibrary.GetExport(library, "MPI_Initialized");
            Finalized = (delegate* unmanaged<int*, int>)NativeLibrary.GetExport(library, "MPI_Finalized");
            Finalize = (delegate* unmanaged<int>)NativeLibrary.GetExport(library, "MPI_Finalize");
            CommRank = (delegate* unmanaged<nint, int*, int>)NativeLibrary.GetExport(library, "MPI_Comm_rank");
            CommSize = (delegate* unmanaged<nint, int*, int>)NativeLibrary.GetExport(library, "MPI_Comm_size");
            Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)NativeLibrary.GetExport(library, "MPI_Allreduce");
            ReduceScatter = (delegate* unmanaged<void*, void*, int*, nint, nint, nint, int>)NativeLibrary.GetExport(library, "MPI_Reduce_scatter");
            Allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)NativeLibrary.GetExport(library, "MPI_Allgather");
            Allgatherv = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int>)NativeLibrary.GetExport(library, "MPI_Allgatherv");
            Barrier = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(library, "MPI_Barrier");
            Abort = (delegate* unmanaged<nint, int, int>)NativeLibrary.GetExport(library, "MPI_Abort");

            // Open MPI's MPI_COMM_WORLD, MPI_FLOAT, … are the addresses of these globals (OMPI_PREDEFINED_GLOBAL in mpi.h).
            CommWorld = NativeLibrary.GetExport(library, "ompi_mpi_comm_world");
            Float = NativeLibrary.GetExport(library, "ompi_mpi_float");
            Double = NativeLibrary.GetExport(library, "ompi_mpi_double");
            Byte = NativeLibrary.GetExport(library, "ompi_mpi_byte");
            UInt16 = NativeLibrary.GetExport(library, "ompi_mpi_uint16_t");
            Sum = NativeLibrary.GetExport(library, "ompi_mpi_op_sum");
        }
    }
}
