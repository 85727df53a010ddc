// Compiled only with -p:OptGenInvalid=true: a declaration with a mistake, to check that the packaged generator
// reports it as an OPTG error at the offending argument (line 8, the Length argument).
using OptGen;

namespace Consumer.Invalid;

[Optimizer]
[FirstMoment(Length = 0)]
public partial class ZeroLength;
