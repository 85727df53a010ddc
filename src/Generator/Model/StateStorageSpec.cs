using OptGen.Generator.Diagnostics;
using OptGen.Generator.Helpers;

namespace OptGen.Generator.Model
{
    /// <summary>One [NonNegativeState] override: the buffer (symbol or property name) and its declared sign.</summary>
    internal sealed record StateSignOverride(string State, bool NonNegative, LocationInfo? Location);

    /// <summary>
    /// How the declaration asks for its state to be stored: [DefaultStatePrecision] (the runtime's
    /// <c>StatePrecision</c> as its number; 0 is float32) and the [NonNegativeState] overrides.
    /// </summary>
    internal sealed record StateStorageSpec(int Precision, EquatableArray<StateSignOverride> Overrides)
    {
        /// <summary>float32 state, no overrides: a declaration without either attribute.</summary>
        public static StateStorageSpec Default { get; } = new(0, EquatableArray<StateSignOverride>.Empty);
    }
}
